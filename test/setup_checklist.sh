#!/usr/bin/env bash
# setup_checklist.sh SOURCE BUILD: follows the README's "Setting it up for real" into a
# temporary root instead of /: meson install --destdir, then checks that everything the README
# says is installed is there (programs, every migration, every man page, the unit, the
# sysusers file, the example configuration), that the unit, the README, anprd(8) and anprd's
# default all name one configuration file, that the unit runs as the user the sysusers file
# makes and rates below 2.0 in systemd-analyze security; then runs the README's configuration
# steps (paths moved under the temporary root, file owners left to the running user) and the
# installed anprd --check-config on the result, which must say "configuration OK" and must
# not once a file it names is gone. The firewall snippet is checked by nft. Needs neither root
# nor a running systemd.
set -euo pipefail

src=$1
build=$2
readme=$src/README.md
tmp=$(mktemp -d "${TMPDIR:-/tmp}/setup_checklist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
conf=/etc/anprd/anprd.yaml
steps=0

fail() {
    echo "setup_checklist: FAIL: $*" >&2
    exit 1
}

ok() {
    steps=$((steps + 1))
    echo "setup_checklist: ok: $*"
}

# The fenced block after the line "<!-- setup:NAME -->" in the README.
block() {
    awk -v m="<!-- setup:$1 -->" '$0 == m { f = 1; next } f == 1 && /^```/ { f = 2; next }
        f == 2 && /^```/ { exit } f == 2 { print }' "$readme"
}

# A README shell block made to run here: paths under the temporary root, the owners and group
# the running user's (the README's are root and anprd, which this machine may not have).
localise() {
    sed -e "s#/etc/anprd#$dest/etc/anprd#g" -e "s#/var/lib/anprd#$dest/var/lib/anprd#g" \
        -e "s#/usr/local/#$dest/usr/local/#g" -e 's#-o [a-z]* -g [a-z]* ##g' \
        -e "s#chgrp anprd#chgrp $(id -gn)#g"
}

# 1. Build and install.
meson install -C "$build" --destdir "$dest" --no-rebuild >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install --destdir failed"; }
n=0
while read -r path; do
    [[ -n "$path" ]] || continue
    [[ -e "$dest$path" ]] || fail "the README says meson install puts $path; it is not there"
    n=$((n + 1))
done < <(block installed)
[[ $n -ge 10 ]] || fail "the README's list of installed files (setup:installed) is missing"
ok "the $n files the README lists are installed"
for f in "$src"/daemon/sql/*.sql; do
    [[ -f "$dest/usr/local/share/anprd/sql/${f##*/}" ]] || fail "migration ${f##*/} not installed"
done
for m in "$src"/tools/*.1 "$src"/daemon/*.5 "$src"/daemon/*.8 "$src"/web/*.8; do
    [[ -f "$dest/usr/local/share/man/man${m##*.}/${m##*/}" ]] || fail "man page ${m##*/} not installed"
done
ok "every migration and man page installed"

# The system user: the sysusers file makes the user the unit runs as.
sysusers=$dest/usr/local/lib/sysusers.d/anprd.conf
unit=$dest/usr/local/lib/systemd/system/anprd.service
grep -q "systemd-sysusers /usr/local/lib/sysusers.d/anprd.conf" "$readme" ||
    fail "the README does not make the system user"
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$dest/etc"
    systemd-sysusers --root="$dest" "$sysusers" >/dev/null 2>&1 || fail "systemd-sysusers refused $sysusers"
    grep -q '^anprd:' "$dest/etc/passwd" || fail "systemd-sysusers made no user anprd"
fi
grep -qx 'User=anprd' "$unit" || fail "the unit does not run as anprd"
grep -qx 'Group=anprd' "$unit" || fail "the unit does not run as group anprd"
grep -q '^DynamicUser=yes' "$unit" && fail "the unit runs as a dynamic user: it cannot read 0640 root:anprd files"
grep -qx 'Type=notify' "$unit" || fail "the unit is not Type=notify"
grep -q '^WatchdogSec=' "$unit" || fail "the unit has no watchdog"
grep -qx 'StartLimitIntervalSec=0' "$unit" || fail "the unit may hit systemd's start limit and stay dead"
ok "the unit runs as the user anprd the sysusers file makes"

# One configuration file: the unit, the README, anprd(8) and anprd's default.
grep -qx "ExecStart=/usr/local/sbin/anprd --config $conf" "$unit" || fail "the unit's ExecStart does not read $conf"
grep -qx "ExecStartPre=/usr/local/sbin/anprd --config $conf --check-config" "$unit" ||
    fail "the unit's ExecStartPre does not check $conf"
grep -q "anprd --config $conf" "$readme" || fail "the README does not name $conf"
grep -q "${conf//\//\\\/}" "$dest/usr/local/share/man/man8/anprd.8" || fail "anprd(8) does not name $conf"
"$dest/usr/local/sbin/anprd" --help | grep -q "default $conf" || fail "anprd's default is not $conf"
ok "the unit, the README, anprd(8) and anprd all name $conf"

if command -v systemd-analyze >/dev/null; then
    systemd-analyze security --offline=true --threshold=20 "$unit" >"$tmp/security.log" 2>&1 ||
        { tail -3 "$tmp/security.log" >&2; fail "systemd-analyze security: exposure above 2.0"; }
    ok "systemd-analyze security: $(grep -o 'exposure level.*' "$tmp/security.log")"
fi

# The retention unit: the installed tool, daily, as anprd (its spools are anprd's files), on
# the spools of anprd's defaults, as hardened as anprd's.
runit=$dest/usr/local/lib/systemd/system/anpr-retention.service
timer=$dest/usr/local/lib/systemd/system/anpr-retention.timer
grep -qx 'Type=oneshot' "$runit" || fail "anpr-retention.service is not Type=oneshot"
grep -qx 'User=anprd' "$runit" || fail "anpr-retention.service does not run as anprd"
grep -q '^ExecStart=/usr/local/bin/anpr-retention .*--spool /var/lib/anprd/spool --spool /var/lib/anprd/backbone$' \
    "$runit" || fail "anpr-retention.service does not run the installed tool on anprd's spools"
grep -q '"/var/lib/anprd/spool"' "$dest/usr/local/share/anprd/anprd.yaml" ||
    fail "the example's spool.dir is not the one anpr-retention.service names"
grep -qx 'Persistent=true' "$timer" || fail "anpr-retention.timer is not Persistent"
grep -q '^OnCalendar=' "$timer" || fail "anpr-retention.timer has no OnCalendar"
grep -q '^RandomizedDelaySec=' "$timer" || fail "anpr-retention.timer has no RandomizedDelaySec"
grep -q 'systemctl enable --now anpr-retention.timer' "$readme" ||
    fail "the README does not enable anpr-retention.timer"
grep -q 'GRANT anpr_retention TO anprd' "$readme" ||
    fail "the README does not let anprd's login run the retention"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze security --offline=true --threshold=20 "$runit" >"$tmp/rsecurity.log" 2>&1 ||
        { tail -3 "$tmp/rsecurity.log" >&2; fail "anpr-retention.service: exposure above 2.0"; }
    systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$timer")" >/dev/null 2>&1 ||
        fail "anpr-retention.timer: OnCalendar does not parse"
fi
ok "anpr-retention.service runs daily as anprd, on its spools, hardened"

# anpr-web: a user of its own, the installed program on the one configuration file the README
# and anpr-web(8) name, as hardened as anprd's unit; the installed example passes its check.
wunit=$dest/usr/local/lib/systemd/system/anpr-web.service
wsysusers=$dest/usr/local/lib/sysusers.d/anpr-web.conf
wconf=/etc/anprd/anpr-web.yaml
grep -qx 'User=anpr-web' "$wunit" || fail "anpr-web.service does not run as anpr-web"
grep -qx "ExecStart=/usr/local/bin/anpr-web --config $wconf" "$wunit" ||
    fail "anpr-web.service's ExecStart does not read $wconf"
grep -qx "ExecStartPre=/usr/local/bin/anpr-web --config $wconf --check-config" "$wunit" ||
    fail "anpr-web.service's ExecStartPre does not check $wconf"
grep -q "systemd-sysusers /usr/local/lib/sysusers.d/anpr-web.conf" "$readme" ||
    fail "the README does not make anpr-web's user"
grep -q "anpr-web --config $wconf --check-config" "$readme" || fail "the README does not name $wconf"
grep -q "${wconf//\//\\\/}" "$dest/usr/local/share/man/man8/anpr-web.8" || fail "anpr-web(8) does not name $wconf"
"$dest/usr/local/bin/anpr-web" --help | grep -q "default $wconf" || fail "anpr-web's default is not $wconf"
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$dest/etc"
    systemd-sysusers --root="$dest" "$wsysusers" >/dev/null 2>&1 || fail "systemd-sysusers refused $wsysusers"
    grep -q '^anpr-web:' "$dest/etc/passwd" || fail "systemd-sysusers made no user anpr-web"
fi
"$dest/usr/local/bin/anpr-web" --check-config --config "$dest/usr/local/share/anprd/anpr-web.yaml" \
    >/dev/null || fail "the installed anpr-web.yaml does not pass anpr-web --check-config"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze security --offline=true --threshold=20 "$wunit" >"$tmp/wsecurity.log" 2>&1 ||
        { tail -3 "$tmp/wsecurity.log" >&2; fail "anpr-web.service: exposure above 2.0"; }
fi
ok "anpr-web.service runs as anpr-web on $wconf, hardened; its example passes --check-config"

# 3. Configuration, as the README does it.
anprd=$dest/usr/local/sbin/anprd
block config | localise >"$tmp/config.sh"
[[ -s "$tmp/config.sh" ]] || fail "the README's configuration steps (setup:config) are missing"
bash -e "$tmp/config.sh" || fail "the README's configuration steps failed"
[[ -f "$dest$conf" ]] || fail "the configuration steps made no $conf"
# The example's own paths (the spool in /var/lib/anprd) moved under the temporary root too.
sed -i -e "s#\"/var/lib/anprd#\"$dest/var/lib/anprd#g" -e "s#\"/etc/anprd#\"$dest/etc/anprd#g" "$dest$conf"
ok "the README's configuration steps"

# 4. CURVE: with an anprd that knows the curve section (and anpr-keygen installed with it).
printf 'database:\n  conninfo: "dbname=anpr"\ncurve:\n  insecure_plaintext: true\n' >"$tmp/probe.yaml"
if "$anprd" --config "$tmp/probe.yaml" --check-config >/dev/null 2>&1 &&
    [[ -x "$dest/usr/local/bin/anpr-keygen" ]]; then
    block curve | localise | sed "s#anpr-keygen#$dest/usr/local/bin/anpr-keygen#" >"$tmp/curve.sh"
    bash -e "$tmp/curve.sh" || fail "the README's CURVE steps failed"
    ok "the README's CURVE steps"
else
    echo "setup_checklist: this anprd has no curve section yet: its CURVE steps are not followed"
fi

# 5. Backbone: the README's key and request; the backbone operator's part played here.
if command -v openssl >/dev/null; then
    block backbone | localise >"$tmp/backbone.sh"
    (cd "$dest/etc/anprd" && bash -e "$tmp/backbone.sh") || fail "the README's backbone steps failed"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -keyout "$tmp/ca.key" -out "$dest/etc/anprd/backbone-ca.pem" -subj "/CN=backbone CA" \
        >/dev/null 2>&1 || fail "openssl: the operator's CA"
    openssl x509 -req -in "$dest/etc/anprd/client.csr" -CA "$dest/etc/anprd/backbone-ca.pem" \
        -CAkey "$tmp/ca.key" -days 1 -out "$dest/etc/anprd/client.pem" >/dev/null 2>&1 ||
        fail "openssl: signing the README's request"
    grep -q '^backbone:' "$dest$conf" || fail "the backbone steps did not configure backbone"
    ok "the README's backbone steps"
fi

# The installed anprd checks the result: valid, every file there and readable.
"$anprd" --config "$dest$conf" --check-config >"$tmp/check.log" 2>&1 ||
    { cat "$tmp/check.log" >&2; fail "anprd --check-config refused the README's configuration"; }
grep -q "configuration OK" "$tmp/check.log" || fail "anprd --check-config did not say OK"
ok "anprd --check-config: $(cat "$tmp/check.log")"
if [[ -f "$dest/etc/anprd/client.key" ]]; then
    mv "$dest/etc/anprd/client.key" "$tmp/client.key"
    if "$anprd" --config "$dest$conf" --check-config >"$tmp/check.log" 2>&1; then
        fail "anprd --check-config passed with backbone.key_file gone"
    fi
    grep -q "backbone.key_file: '$dest/etc/anprd/client.key' does not exist" "$tmp/check.log" ||
        { cat "$tmp/check.log" >&2; fail "anprd --check-config did not name the missing key"; }
    mv "$tmp/client.key" "$dest/etc/anprd/client.key"
    ok "anprd --check-config names a key file that is gone"
fi

# 6. Firewall: nft parses the README's table (check mode changes nothing).
block nft >"$tmp/anprd.nft"
grep -q 'table inet anprd' "$tmp/anprd.nft" || fail "the README's nftables table (setup:nft) is missing"
if command -v nft >/dev/null; then
    if ! nft -c -f "$tmp/anprd.nft" 2>"$tmp/nft.log"; then
        grep -qi "operation not permitted" "$tmp/nft.log" ||
            { cat "$tmp/nft.log" >&2; fail "nft refuses the README's table"; }
        echo "setup_checklist: nft may not check here (no CAP_NET_ADMIN)"
    else
        ok "nft -c accepts the README's table"
    fi
fi
block dropin | grep -q '^IPAddressAllow=' || fail "the README's unit drop-in (setup:dropin) allows nothing"

echo "setup_checklist: $steps steps followed"
