"""A password field whose value never enters widget state.

ipywidgets' `Password` syncs its value into the widget model on every keystroke, and the model
is what JupyterLab saves into the `.ipynb` ("Save Widget State Automatically", by Ctrl+S or by
its own autosave): a secret typed but never submitted ends up in the file. `SecretInput` is a
small anywidget with its own `<input type=password>`: what is typed stays in the browser's DOM
until the user presses its button (or Enter); then the front-end empties the box and sends the
value to the kernel once, in a custom comm message, which no save, autosave or widget-state
export records. Its synced traits are only labels and flags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

_ESM = r"""
function render({ model, el }) {
  const row = document.createElement("div");
  row.className = "clawdbot-secret";
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "password";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.setAttribute("data-lpignore", "true");
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button mod-primary";
  label.appendChild(document.createElement("span"));
  row.append(label, input, button);
  el.appendChild(row);

  let typing = false;
  const show = () => {
    label.firstChild.textContent = model.get("description");
    input.placeholder = model.get("placeholder");
    input.disabled = model.get("input_disabled") || model.get("disabled");
    button.textContent = model.get("button_description");
    button.disabled = model.get("disabled");
  };
  const submit = () => {
    if (button.disabled) return;
    const value = input.value;
    input.value = "";  // emptied before it is sent: nothing stays in the page
    typing = false;
    model.send({ event: "submit", value: value });
  };
  input.addEventListener("input", () => {
    // Tells the kernel that a new value is being typed (so old messages go), never what it is.
    if (!typing) { typing = true; model.send({ event: "typing" }); }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); event.stopPropagation(); submit(); }
  });
  button.addEventListener("click", submit);
  for (const name of ["description", "placeholder", "input_disabled", "disabled", "button_description"]) {
    model.on(`change:${name}`, show);
  }
  show();
}
export default { render };
"""

_CSS = """
.clawdbot-secret { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.clawdbot-secret label { width: 9em; text-align: right; padding-right: 2px; }
.clawdbot-secret input { width: 28em; height: 26px; box-sizing: border-box; padding: 2px 6px;
  border: 1px solid var(--jp-border-color1, #9e9e9e); border-radius: 2px;
  background: var(--jp-layout-color1, white); color: var(--jp-ui-font-color1, black); }
.clawdbot-secret button { height: 28px; padding: 0 12px; }
"""


class SecretInput(anywidget.AnyWidget):
    """A hidden text box and a button; `on_submit(handler)` gets the value when it is pressed.

    There is no `value` trait: the secret exists in the kernel only as the argument of the
    handlers, for the length of the call.
    """

    _esm = _ESM
    _css = _CSS
    description = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    button_description = traitlets.Unicode("Save").tag(sync=True)
    #: The box is greyed out (e.g. the key comes from the environment); the button still works.
    input_disabled = traitlets.Bool(False).tag(sync=True)
    #: Box and button are greyed out.
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **traits: Any) -> None:
        super().__init__(**traits)
        self._on_submit: list[Callable[[str], None]] = []
        self._on_typing: list[Callable[[], None]] = []
        self.on_msg(self._received)

    def on_submit(self, handler: Callable[[str], None]) -> None:
        self._on_submit.append(handler)

    def on_typing(self, handler: Callable[[], None]) -> None:
        """`handler()` runs when the user starts typing a new value (the value is not sent)."""
        self._on_typing.append(handler)

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("event") == "typing":
            for typing in self._on_typing:
                typing()
        elif content.get("event") == "submit" and not self.disabled:
            value = content.get("value")
            for handler in self._on_submit:
                handler(value if isinstance(value, str) else "")
