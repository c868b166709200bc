"""Image: the stack editor (only CUDA versions the GPUs and driver can run) and the Dockerfile preview."""

from __future__ import annotations

import dataclasses

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.timer import Timer
from textual.widgets import Checkbox, Label, Select, SelectionList, Static, TabbedContent, TabPane

from dlenv_tui.compat import choices
from dlenv_tui.model import ImageOptions, ImageVariant, Profile
from dlenv_tui.screens import services
from dlenv_tui.screens.base import StageScreen
from dlenv_tui.widgets.field import Field

#: (preset key, label) in the order the guide lists the stack; keys are dlenv_tui.image.PRESETS.
PRESET_LABELS = (
    ("numpy", "NumPy"),
    ("scipy", "SciPy"),
    ("pandas", "pandas"),
    ("polars", "Polars"),
    ("matplotlib", "Matplotlib"),
    ("seaborn", "Seaborn"),
    ("scikit-learn", "scikit-learn"),
    ("torch", "PyTorch (CUDA wheels)"),
    ("tqdm", "tqdm"),
    ("cupy", "CuPy"),
    ("cudf", "cuDF (RAPIDS)"),
    ("cuml", "cuML (RAPIDS)"),
    ("dali", "DALI"),
)


class ImageScreen(StageScreen):
    KEY = "image"
    TITLE_TEXT = "Image — what goes into the container"
    BINDINGS = [
        Binding("f2", "toggle_preview", "Dockerfile"),
        Binding("ctrl+o", "toggle_preview", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        o = self.profile.image
        # CUDA and Ubuntu lists follow the flavour (variant + cuDNN): 13.1/13.2, for one, exist only
        # as cuDNN devel images, so every pair offered here has an nvidia/cuda image.
        self.cudas, reasons = choices.image_cuda_choices(
            self.facts, o.variant, o.cudnn, self.profile
        )
        if not self.cudas:  # no image of this flavour: keep the host's versions, show the error
            self.cudas, reasons = choices.usable_cuda(self.facts, self.profile)
        cuda = o.cuda if o.cuda in self.cudas else (self.cudas[0] if self.cudas else "")
        ubuntus = self.ubuntus = self._ubuntus(cuda, o.variant, o.cudnn)
        with TabbedContent(id="tabs"):
            with TabPane("Stack", id="stack"):
                yield Static(
                    "[$text-muted]" + escape(" ".join(reasons)) + "[/]",
                    id="cuda-reasons",
                    classes="hint",
                )
                yield Static(self._flavour_text(o), id="flavour-reasons", classes="hint")
                # the notes `dlenv build` prints too (image_notes): SSH key, root, torch index
                yield Static("", id="image-notes", classes="hint")
                with Horizontal(classes="row"):
                    with Vertical(classes="col"):
                        yield Label("CUDA")
                        yield Select(
                            [(c, c) for c in self.cudas],
                            value=cuda or Select.NULL,
                            allow_blank=not self.cudas,
                            compact=True,
                            id="cuda",
                        )
                    with Vertical(classes="col"):
                        yield Label("Flavour")
                        yield Select(
                            [
                                ("runtime", ImageVariant.RUNTIME.value),
                                ("devel (compilers)", ImageVariant.DEVEL.value),
                                ("base (cudart only)", ImageVariant.BASE.value),
                            ],
                            value=o.variant.value,
                            allow_blank=False,
                            compact=True,
                            id="variant",
                        )
                    with Vertical(classes="col"):
                        yield Label("Ubuntu")
                        yield Select(
                            [(u, u) for u in ubuntus],
                            value=o.ubuntu if o.ubuntu in ubuntus else ubuntus[0],
                            allow_blank=False,
                            compact=True,
                            id="ubuntu",
                        )
                yield Static("", id="image-error", classes="field-error")
                with Horizontal(classes="row checks"):
                    yield Checkbox("cuDNN", o.cudnn, id="cudnn", compact=True)
                    yield Checkbox("JupyterLab", o.jupyter, id="jupyter", compact=True)
                    yield Checkbox("SSH (keys only)", o.ssh, id="ssh", compact=True)
                    yield Checkbox("tmux", o.tmux, id="tmux", compact=True)
                    yield Checkbox("UID/GID user", o.create_user, id="user", compact=True)
                yield Label("Python stack")
                yield SelectionList[str](
                    *[(label, key, key in o.python_packages) for key, label in PRESET_LABELS],
                    id="presets",
                    compact=True,
                )
                yield Field(
                    "Extra apt packages",
                    " ".join(o.extra_apt),
                    lambda v: services.validate_field("apt_packages", v),
                    id="extra-apt",
                    placeholder="e.g. ffmpeg libgl1",
                )
                yield Field(
                    "Extra pip packages",
                    " ".join(o.extra_pip),
                    lambda v: services.validate_field("pip_packages", v),
                    id="extra-pip",
                    placeholder="e.g. transformers==4.57.1",
                )
                yield Field(
                    "Base image override",
                    o.base_override,
                    lambda v: services.validate_field("image", v),
                    id="base",
                    placeholder="empty: nvidia/cuda",
                )
                yield Field(
                    "apt mirror",
                    o.apt_mirror,
                    lambda v: services.validate_field("mirror_url", v),
                    id="apt-mirror",
                    placeholder="empty: the distribution's archive; http or https",
                )
                yield Field(
                    "pip index",
                    o.pip_index,
                    lambda v: services.validate_field("mirror_url", v),
                    id="pip-index",
                    placeholder="empty: PyPI; every Python package, torch included",
                )
                yield Field(
                    "torch index",
                    o.torch_index,
                    lambda v: services.validate_field("torch_index", v),
                    id="torch-index",
                    placeholder="empty: PyTorch's index for the CUDA; 'pip': the pip index",
                )
                yield Field(
                    "CA certificates",
                    " ".join(o.ca_certs),
                    lambda v: services.validate_field("host_paths", v),
                    id="ca-certs",
                    placeholder="PEM files of a proxy's or mirror's CA, e.g. /etc/ssl/corp.crt",
                )
                yield Static(self._proxy_text(), id="proxy-vars", classes="hint")
                yield Checkbox(
                    "Pass this host's HTTP(S)_PROXY / NO_PROXY to the build",
                    o.build_proxy,
                    id="build-proxy",
                    compact=True,
                )
                yield Checkbox(
                    "… and into the container (pip, git, curl in it use them)",
                    self.profile.run.proxy,
                    id="run-proxy",
                    compact=True,
                )
            with TabPane("Dockerfile", id="dockerfile"), VerticalScroll(id="preview-scroll"):
                yield Static("", id="preview")

    def _proxy_text(self) -> str:
        """Which proxy variables this host has, so the two boxes below say what they pass."""
        from dlenv_tui.image import proxy_summary

        found = proxy_summary(self.ctx.proxy_env())
        if not found:
            return (
                "[$text-muted]This host sets no HTTP(S)_PROXY / NO_PROXY: the boxes below "
                "pass nothing until it does.[/]"
            )
        return "[$text-muted]This host's proxy: " + escape(" ".join(found)) + "[/]"

    def _ubuntus(self, cuda: str, variant: ImageVariant, cudnn: bool) -> tuple[str, ...]:
        """Releases with this CUDA in this flavour; any with this CUDA when the flavour has none."""
        from dlenv_tui import compat

        return (
            choices.image_ubuntus(cuda, variant, cudnn)
            or compat.ubuntu_releases_for(cuda)
            or ("24.04",)
        )

    def on_mount(self) -> None:
        self._preview_timer: Timer | None = None
        self.show_image_error()
        self.render_preview()
        self.query_one("#cuda", Select).focus()

    # ---- reading the form

    def _fields(self) -> list[Field]:
        return list(self.query(Field))

    def image_error(self) -> str:
        """One sentence when nvidia/cuda has no image for the CUDA / flavour / Ubuntu on screen."""
        if self.query_one("#base", Field).value.strip():
            return ""  # a base-image override replaces the nvidia/cuda image
        variant, cudnn = self._flavour()
        cuda = self.query_one("#cuda", Select).value
        ubuntu = self.query_one("#ubuntu", Select).value
        if not isinstance(cuda, str) or not isinstance(ubuntu, str):
            return choices.no_image_error(variant, cudnn)
        if not choices.image_cuda_choices(self.facts, variant, cudnn, self.profile)[0]:
            return choices.no_image_error(variant, cudnn)
        return choices.image_error(cuda, variant, cudnn, ubuntu)

    def invalid_reason(self) -> str:
        if image := self.image_error():
            return image
        bad = next((f for f in self._fields() if not f.valid), None)
        return f"{bad.label}: {bad.error}" if bad is not None else ""

    def current_profile(self) -> Profile:
        o = self.profile.image

        def select(id_: str, default: str) -> str:
            value = self.query_one(f"#{id_}", Select).value
            return value if isinstance(value, str) else default

        def words(id_: str) -> tuple[str, ...]:
            return tuple(self.query_one(f"#{id_}", Field).value.split())

        def checked(id_: str) -> bool:
            return self.query_one(f"#{id_}", Checkbox).value

        presets = self.query_one("#presets", SelectionList).selected
        image = ImageOptions(
            **{
                **dataclasses.asdict(o),
                "cuda": select("cuda", o.cuda),
                "variant": ImageVariant(select("variant", o.variant.value)),
                "ubuntu": select("ubuntu", o.ubuntu),
                "cudnn": checked("cudnn"),
                "jupyter": checked("jupyter"),
                "ssh": checked("ssh"),
                "tmux": checked("tmux"),
                "create_user": checked("user"),
                "python_packages": tuple(k for k, _ in PRESET_LABELS if k in presets)
                + tuple(p for p in o.python_packages if p not in dict(PRESET_LABELS)),
                "extra_apt": words("extra-apt"),
                "extra_pip": words("extra-pip"),
                "base_override": self.query_one("#base", Field).value.strip(),
                "apt_mirror": self.query_one("#apt-mirror", Field).value.strip(),
                "pip_index": self.query_one("#pip-index", Field).value.strip(),
                "torch_index": self.query_one("#torch-index", Field).value.strip(),
                "ca_certs": words("ca-certs"),
                "build_proxy": checked("build-proxy"),
            }
        )
        # a run option, set here beside the build's: the same variables of the same host
        run = dataclasses.replace(self.profile.run, proxy=checked("run-proxy"))
        return dataclasses.replace(self.profile, image=image, run=run)

    # ---- reacting

    def _flavour(self) -> tuple[ImageVariant, bool]:
        variant = self.query_one("#variant", Select).value
        return (
            ImageVariant(variant) if isinstance(variant, str) else self.profile.image.variant,
            self.query_one("#cudnn", Checkbox).value,
        )

    def refresh_cudas(self) -> None:
        """The flavour changed: offer the CUDA versions that come in it (keeping the choice)."""
        variant, cudnn = self._flavour()
        cudas, reasons = choices.image_cuda_choices(self.facts, variant, cudnn, self.profile)
        if cudas:  # none: keep the list, the error under the row says what to change
            self.query_one("#cuda-reasons", Static).update(
                "[$text-muted]" + escape(" ".join(reasons)) + "[/]"
            )
            select = self.query_one("#cuda", Select)
            current = select.value
            if cudas != self.cudas:
                self.cudas = cudas
                select.set_options([(c, c) for c in cudas])
            select.value = current if current in cudas else cudas[0]
        self.refresh_ubuntus()

    def refresh_ubuntus(self) -> None:
        """Offer the Ubuntu releases that have the chosen CUDA in the chosen flavour."""
        cuda = self.query_one("#cuda", Select).value
        if not isinstance(cuda, str):
            return
        options = self._ubuntus(cuda, *self._flavour())
        ubuntu = self.query_one("#ubuntu", Select)
        current = ubuntu.value
        if options != self.ubuntus:
            self.ubuntus = options
            ubuntu.set_options([(u, u) for u in options])
        ubuntu.value = current if current in options else options[0]

    def _flavour_text(self, options: ImageOptions) -> str:
        return "[$text-muted]" + escape(" ".join(services.flavour_reasons(options))) + "[/]"

    def show_flavour_reasons(self) -> None:
        variant, cudnn = self._flavour()
        options = dataclasses.replace(self.profile.image, variant=variant, cudnn=cudnn)
        self.query_one("#flavour-reasons", Static).update(self._flavour_text(options))

    def show_image_error(self) -> None:
        error = self.image_error()
        box = self.query_one("#image-error", Static)
        box.update(escape(error))
        box.display = bool(error)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "variant":
            self.refresh_cudas()
            self.show_flavour_reasons()
        elif event.select.id == "cuda":
            self.refresh_ubuntus()
        self.show_image_error()
        self.schedule_preview()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "cudnn":
            self.refresh_cudas()
            self.show_image_error()
        self.schedule_preview()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        self.schedule_preview()

    def on_field_changed(self, event: Field.Changed) -> None:
        if event.field.id == "base":
            self.show_image_error()
        self.schedule_preview()

    def schedule_preview(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(0.25, self.render_preview)

    def render_preview(self) -> None:
        self._preview_timer = None
        preview = self.query_one("#preview", Static)
        reason = self.invalid_reason()
        if reason:
            preview.update(
                f"[$error]The Dockerfile appears once the form is valid: {escape(reason)}[/]"
            )
            return
        try:
            rendered = self.ctx.render_image(self.current_profile())
        except Exception as exc:  # ImageError: one sentence
            preview.update(f"[$error]✗ {escape(str(exc))}[/]")
            return
        self.show_notes(services.image_notes(rendered))
        text = rendered.dockerfile
        theme = "ansi_light" if not self.app.current_theme.dark else "ansi_dark"
        preview.update(Syntax(text, "docker", theme=theme, line_numbers=False, word_wrap=True))

    def show_notes(self, notes: tuple[str, ...]) -> None:
        box = self.query_one("#image-notes", Static)
        box.update("\n".join(f"[$warning]• [/]{escape(n)}" for n in notes))
        box.display = bool(notes)

    def action_toggle_preview(self) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        tabs.active = "dockerfile" if tabs.active == "stack" else "stack"
        if tabs.active == "dockerfile":
            self.query_one("#preview-scroll").focus()
