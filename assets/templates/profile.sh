# Login shells over SSH: restore the container's environment that /etc/profile just reset.
if [ -r /etc/dlenv/ssh/environment ]; then
  # shellcheck source=/dev/null
  . /etc/dlenv/ssh/environment
fi
