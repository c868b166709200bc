#!/bin/sh
# Point the base image's apt sources at MIRROR before the first `apt-get update`.
# MIRROR is the mirror's copy of the distribution archive (…/debian or …/ubuntu, http or https:
# apt checks the archive's signatures itself). Debian's security archive, deb.debian.org/debian-security,
# moves to MIRROR-security when MIRROR ends in /debian (the layout every Debian mirror uses), and is
# left alone otherwise; Ubuntu's security and ports archives live inside MIRROR itself.
set -eu
mirror=${1%/}
# sed replacement text: escape the characters sed gives a meaning there
esc() { printf '%s' "$1" | sed 's/[&#\\]/\\&/g'; }
m=$(esc "$mirror")
case $mirror in
  */debian) s=$(esc "$mirror-security") ;;
  *) s= ;;
esac
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  # debian-security first: the plain "debian" rule must never see it (it would make MIRROR/-security)
  if [ -n "$s" ]; then
    sed -i -E "s#https?://(deb|security)\\.debian\\.org/debian-security/?([[:space:]]|\$)#$s\\2#g" "$f"
  fi
  sed -i -E \
    -e "s#https?://deb\\.debian\\.org/debian/?([[:space:]]|\$)#$m\\1#g" \
    -e "s#https?://(archive|security|ports)\\.ubuntu\\.com/ubuntu(-ports)?/?([[:space:]]|\$)#$m\\3#g" \
    "$f"
done
