#!/bin/sh
# dlenv container entrypoint: start sshd and JupyterLab as the image was built for, then run the
# command (or wait). DLENV_SSH / DLENV_JUPYTER come from the image and may be overridden at run time.
set -eu

if [ "${DLENV_SSH:-0}" = 1 ] && command -v sshd >/dev/null 2>&1; then
  keydir=/etc/dlenv/ssh
  # Host keys are made per container, not baked into the image that many containers share.
  if [ ! -f "$keydir/ssh_host_ed25519_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -f "$keydir/ssh_host_ed25519_key"
  fi
  # Without root, sshd runs unprivileged and can only log in the user it runs as: that user.
  "$(command -v sshd)" -f /etc/dlenv/sshd_config -E /tmp/dlenv-sshd.log
  echo "dlenv: sshd listening on port 22"
fi

if [ "${DLENV_JUPYTER:-0}" = 1 ] && command -v jupyter >/dev/null 2>&1; then
  set -- jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --ServerApp.root_dir=/workspace "$@"
  # JupyterLab refuses to run as root unless told; root is the user's explicit choice here.
  if [ "$(id -u)" = 0 ]; then set -- "$@" --allow-root; fi
  # The token comes from JUPYTER_TOKEN (dlenv run passes a fresh one); Jupyter reads it itself.
  exec "$@"
fi

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
# Nothing to run in the foreground: stay up (for exec / VS Code attach) until stopped.
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
