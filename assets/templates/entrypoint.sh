#!/bin/sh
# dlenv container entrypoint: start sshd and JupyterLab as the image was built for, then run the
# command (or wait). DLENV_SSH / DLENV_JUPYTER come from the image and may be overridden at run time.
set -eu

# pip installs into the user site (the venv's pip.conf says --user): make it now, so a Python
# started before the first `pip install` (a notebook's kernel) has it on sys.path already.
if [ -n "${VIRTUAL_ENV:-}" ] && [ -f "$VIRTUAL_ENV/pip.conf" ]; then
  "$VIRTUAL_ENV/bin/python" -c 'import os, site; os.makedirs(site.getusersitepackages(), exist_ok=True)' 2>/dev/null || true
fi

if [ "${DLENV_SSH:-0}" = 1 ] && command -v sshd >/dev/null 2>&1; then
  keydir=/etc/dlenv/ssh
  # Host keys are made per container, not baked into the image that many containers share.
  if [ ! -f "$keydir/ssh_host_ed25519_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -f "$keydir/ssh_host_ed25519_key"
  fi
  # SSH sessions start from a clean environment (and login shells reset PATH in /etc/profile):
  # hand them the container's PATH, CUDA and Python settings through SetEnv and /etc/profile.d.
  env | grep -E '^(PATH|LD_LIBRARY_PATH|VIRTUAL_ENV|CUDA_[A-Z_]*|NVIDIA_[A-Z_]*|NV_[A-Z_]*|PYTHON[A-Z_]*|TORCH_HOME|HF_HOME|PIP_[A-Z_]*|SSL_CERT_FILE|REQUESTS_CA_BUNDLE|LANG|LC_ALL)=' \
    | grep -v "[\"'\\]" >"$keydir/environment.raw" || true
  # sshd honours only the first SetEnv line: one line holds them all
  { printf 'SetEnv'; sed 's/^\([^=]*\)=\(.*\)$/ \1="\2"/' "$keydir/environment.raw" | tr -d '\n'; echo; } >"$keydir/env.conf"
  sed "s/^\([^=]*\)=\(.*\)$/export \1='\2'/" "$keydir/environment.raw" >"$keydir/environment"
  rm -f "$keydir/environment.raw"
  # Without root, sshd runs unprivileged and can only log in the user it runs as: that user.
  "$(command -v sshd)" -f /etc/dlenv/sshd_config -E /tmp/dlenv-sshd.log
  echo "dlenv: sshd listening on port 22"
fi

if [ "${DLENV_JUPYTER:-0}" = 1 ] && command -v jupyter >/dev/null 2>&1; then
  # The token comes from JUPYTER_TOKEN (dlenv run passes a fresh one); Jupyter reads it itself.
  # JupyterLab refuses to run as root unless told; root is the user's explicit choice here.
  root_flag=
  if [ "$(id -u)" = 0 ]; then root_flag=--allow-root; fi
  if [ "$#" -eq 0 ]; then
    exec jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --ServerApp.root_dir=/workspace $root_flag
  fi
  # A command was given: JupyterLab serves beside it.
  jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --ServerApp.root_dir=/workspace $root_flag &
fi

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
# Nothing to run in the foreground: stay up (for exec / VS Code attach) until stopped.
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
