#include "hitid.h"

#define S_INSTANCE_BITS 10
#define S_COUNTER_BITS  12
#define S_LOW_BITS      (S_INSTANCE_BITS + S_COUNTER_BITS)

void hitid_init(struct hitid *self, unsigned instance)
{
    atomic_init(&self->last, 0);
    self->instance = instance & HITID_INSTANCE_MAX;
}

void hitid_seed(struct hitid *self, uint64_t id)
{
    if (id > atomic_load(&self->last))
        atomic_store(&self->last, id);
}

uint64_t hitid_next(struct hitid *self, int64_t now_us)
{
    int64_t ms = (now_us - HITID_EPOCH_US) / 1000;
    uint64_t base = (uint64_t)(ms > 0 ? ms : 0) << S_LOW_BITS | (uint64_t)self->instance
                                                                    << S_COUNTER_BITS;
    uint64_t last = atomic_load(&self->last), next;

    do {
        /* The same millisecond (or a clock gone back): one more than the last, which keeps the
         * instance bits as long as the counter does not overflow into them; then on to the
         * next millisecond of this instance. */
        if (base > last) {
            next = base;
        } else {
            next = last + 1;
            if ((next >> S_COUNTER_BITS & HITID_INSTANCE_MAX) != self->instance)
                next = ((next >> S_LOW_BITS) + 1) << S_LOW_BITS | (uint64_t)self->instance
                                                                      << S_COUNTER_BITS;
        }
    } while (!atomic_compare_exchange_weak(&self->last, &last, next));
    return next;
}

int64_t hitid_time_us(uint64_t id)
{
    return (int64_t)(id >> S_LOW_BITS) * 1000 + HITID_EPOCH_US;
}
