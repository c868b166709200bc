#!/bin/sh
# Point the base image's apt sources at MIRROR before the first `apt-get update`.
# MIRROR is the mirror's copy of the distribution archive (…/debian or …/ubuntu, http or https:
# apt checks the archive's signatures itself). Debian's security archive, deb.debian.org/debian-security,
# moves to MIRROR-security when MIRROR ends in /debian (the layout every Debian mirror uses), and is
# left alone otherwise. Ubuntu's security archive lives inside MIRROR itself; its ports archive
# (ports.ubuntu.com/ubuntu-ports: arm64 and the other non-x86 architectures) is a tree of its own
# beside it, MIRROR-ports, when MIRROR ends in /ubuntu (every Ubuntu mirror's layout), else MIRROR.
set -eu
mirror=${1%/}
# sed replacement text: escape the characters sed gives a meaning there
esc() { printf '%s' "$1" | sed 's/[&#\\]/\\&/g'; }
m=$(esc "$mirror")
s= p=$m
case $mirror in
  */debian) s=$(esc "$mirror-security") ;;
  */ubuntu) p=$(esc "$mirror-ports") ;;
esac
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  # debian-security first: the plain "debian" rule must never see it (it would make MIRROR/-security)
  if [ -n "$s" ]; then
    sed -i -E "s#https?://(deb|security)\\.debian\\.org/debian-security/?([[:space:]]|\$)#$s\\2#g" "$f"
  fi
  sed -i -E \
    -e "s#https?://deb\\.debian\\.org/debian/?([[:space:]]|\$)#$m\\1#g" \
    -e "s#https?://([a-z]{2}\\.)?(archive|security)\\.ubuntu\\.com/ubuntu/?([[:space:]]|\$)#$m\\3#g" \
    -e "s#https?://([a-z]{2}\\.)?ports\\.ubuntu\\.com/ubuntu-ports/?([[:space:]]|\$)#$p\\2#g" \
    "$f"
done
