"""Label and environment-variable names dlenv puts on images and containers, in one place."""

from __future__ import annotations

#: Label on every image and container dlenv makes; a same-named container without it is never removed.
PROFILE_LABEL = "io.dlenv.profile"
#: ``uid:gid`` the image's user has (the host user's ids).
USER_LABEL = "io.dlenv.user"
#: The image's account name (for ``ssh user@…``).
USER_NAME_LABEL = "io.dlenv.user-name"
#: Who started the container (host UID): a same-named container of another user is never ours.
OWNER_LABEL = "io.dlenv.owner"
#: Image environment: start sshd / JupyterLab in the entrypoint ("1") or not ("0").
SSH_ENV = "DLENV_SSH"
JUPYTER_ENV = "DLENV_JUPYTER"
#: The Jupyter token dlenv passes at launch (and reads back for ``dlenv info``).
JUPYTER_TOKEN_ENV = "JUPYTER_TOKEN"
