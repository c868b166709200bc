#!/bin/sh
# Create the user NAME with UID:GID, or adopt whatever account or group the base image already has
# with those ids (Ubuntu 24.04 images ship user and group "ubuntu" as 1000:1000).
# Works with shadow-utils (useradd/usermod) and, without them, by editing /etc/passwd directly.
set -eu
name=$1 uid=$2 gid=$3
home=/home/$name
shell=/bin/sh
[ -x /bin/bash ] && shell=/bin/bash

field() { awk -F: -v id="$2" '$3 == id { print $1; exit }' "$1"; }
has() { command -v "$1" >/dev/null 2>&1; }

old_user=$(field /etc/passwd "$uid")
old_group=$(field /etc/group "$gid")

# The group: reuse the one with this GID; rename it when it is the personal group of the account
# being adopted (ubuntu:ubuntu -> NAME:NAME), create it when none has this GID.
if [ -z "$old_group" ]; then
  if has groupadd; then groupadd -g "$gid" "$name"; else echo "$name:x:$gid:" >>/etc/group; fi
elif [ -n "$old_user" ] && [ "$old_group" = "$old_user" ] && [ "$old_group" != "$name" ] \
    && ! awk -F: -v n="$name" '$1 == n { f = 1 } END { exit !f }' /etc/group; then
  if has groupmod; then groupmod -n "$name" "$old_group"; else sed -i "s/^$old_group:/$name:/" /etc/group; fi
fi

if [ -n "$old_user" ] && [ "$old_user" != "$name" ]; then
  # Another account holds the UID: take it over (rename, new home) rather than fail the build.
  if has usermod; then
    usermod -l "$name" -d "$home" -m -g "$gid" -s "$shell" "$old_user"
  else
    sed -i "/^$old_user:/d" /etc/passwd
    old_user=
  fi
fi
if [ -z "$old_user" ]; then
  if awk -F: -v n="$name" '$1 == n { f = 1 } END { exit !f }' /etc/passwd; then
    # NAME exists with another UID: drop it so the name follows the host's ids.
    if has userdel; then userdel "$name"; else sed -i "/^$name:/d" /etc/passwd; fi
  fi
  if has useradd; then
    useradd -m -d "$home" -u "$uid" -g "$gid" -s "$shell" "$name"
  else
    echo "$name:x:$uid:$gid::$home:$shell" >>/etc/passwd
  fi
fi
# ~/.cache and the mount points of the build's cache mounts exist before those mounts land, so
# they belong to the user (BuildKit would make them root's, and uv in the container needs them)
mkdir -p "$home/.cache/uv" "$home/.cache/pip"
# "*" rather than a locked "!": no password can ever match, yet sshd (without PAM) still accepts keys.
if has usermod; then usermod -p '*' "$name"; fi
chown "$uid:$gid" "$home" "$home/.cache" "$home/.cache/uv" "$home/.cache/pip"
mkdir -p /workspace /opt/venv
chown "$uid:$gid" /workspace /opt/venv
