#!/bin/sh
# hardening.sh BINARY FORTIFY: the binary is a position-independent executable, with full RELRO
# (GNU_RELRO and BIND_NOW), the stack protector, and, when FORTIFY is "yes", fortified calls.
set -eu
bin=$1
fortify=$2
fail=0

no() {
    echo "hardening: $bin: $*" >&2
    fail=1
}

header=$(readelf -h -W "$bin")
dynamic=$(readelf -d -W "$bin")
segments=$(readelf -l -W "$bin")
symbols=$(readelf --dyn-syms -W "$bin")

echo "$header" | grep -Eq 'Type:[[:space:]]+DYN' || no "not position-independent (Type is not DYN)"
echo "$dynamic" | grep -Eq 'FLAGS_1.*PIE' || no "no PIE flag in the dynamic section"
echo "$segments" | grep -q 'GNU_RELRO' || no "no GNU_RELRO segment"
echo "$dynamic" | grep -Eq '\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW' || no "not linked with -z now (BIND_NOW)"
echo "$symbols" | grep -q '__stack_chk_fail' || no "no stack protector (__stack_chk_fail)"
if [ "$fortify" = yes ]; then
    echo "$symbols" | grep -v '__stack_chk_fail' | grep -Eq '__[a-z0-9_]+_chk(@|[[:space:]]|$)' ||
        no "_FORTIFY_SOURCE: no fortified call (__*_chk)"
fi
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "hardening: $bin: PIE, GNU_RELRO, BIND_NOW, stack protector, fortified calls: $fortify"
