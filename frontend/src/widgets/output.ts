// The Output widget (ipywidgets.Output, interact's output area): the server captures what the
// kernel prints into the model's `outputs` (nbformat outputs); this view shows them. Text and
// images as the notebook shows them; HTML as markup without scripts (this frame is sandboxed
// already); a widget displayed inside it as that widget's own view.
import { DOMWidgetModel, DOMWidgetView, type WidgetView } from "@jupyter-widgets/base";
import { Widget } from "@lumino/widgets";

const VIEW_MIME = "application/vnd.jupyter.widget-view+json";
const IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

type Output = Record<string, any>;

function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.join("");
  return v == null ? "" : JSON.stringify(v, null, 2);
}

export class OutputModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      _model_name: "OutputModel",
      _model_module: "@jupyter-widgets/output",
      _model_module_version: "1.0.0",
      _view_name: "OutputView",
      _view_module: "@jupyter-widgets/output",
      _view_module_version: "1.0.0",
      msg_id: "",
      outputs: [],
    };
  }
}

export class OutputView extends DOMWidgetView {
  private children: WidgetView[] = [];
  private generation = 0;

  render(): void {
    this.el.classList.add("jupyter-widgets-output-area", "widget-output");
    this.listenTo(this.model, "change:outputs", () => this.update());
    this.update();
  }

  update(): void {
    const mine = ++this.generation;
    for (const child of this.children) child.remove();
    this.children = [];
    this.el.replaceChildren();
    for (const output of (this.model.get("outputs") ?? []) as Output[]) {
      const slot = document.createElement("div");
      slot.className = "dikte-output";
      this.el.appendChild(slot);
      this.fill(slot, output, mine);
    }
  }

  private fill(slot: HTMLElement, output: Output, mine: number): void {
    const kind = output.output_type;
    if (kind === "stream" || kind === "error") {
      const pre = document.createElement("pre");
      pre.className = kind === "error" || output.name === "stderr" ? "dikte-out-text dikte-out-err" : "dikte-out-text";
      pre.style.margin = "0";
      pre.style.whiteSpace = "pre-wrap";
      const body = kind === "stream" ? text(output.text) : (output.traceback ?? []).join("\n");
      pre.textContent = body.replace(ANSI, "");
      slot.appendChild(pre);
      return;
    }
    const data = (output.data ?? {}) as Record<string, unknown>;
    const view = data[VIEW_MIME] as { model_id?: string } | undefined;
    if (view?.model_id) {
      void this.model.widget_manager.get_model(view.model_id).then(async (model) => {
        if (mine !== this.generation) return;
        const child = await this.create_child_view(model);
        if (mine !== this.generation) {
          child.remove();
          return;
        }
        this.children.push(child);
        Widget.attach(child.luminoWidget, slot);
      }).catch(() => {
        slot.textContent = text(data["text/plain"]);
      });
      return;
    }
    const image = IMAGES.find((m) => m in data);
    if (image) {
      const img = document.createElement("img");
      img.src = `data:${image};base64,${text(data[image]).replace(/\s+/g, "")}`;
      img.style.maxWidth = "100%";
      slot.appendChild(img);
    } else if ("image/svg+xml" in data) {
      const img = document.createElement("img");
      img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text(data["image/svg+xml"]))}`;
      slot.appendChild(img);
    } else if ("text/html" in data) {
      // scripts in markup inserted this way never run; the frame's sandbox holds the rest
      slot.innerHTML = text(data["text/html"]);
    } else {
      const pre = document.createElement("pre");
      pre.style.margin = "0";
      pre.style.whiteSpace = "pre-wrap";
      pre.textContent = text(data["text/plain"]);
      slot.appendChild(pre);
    }
  }

  remove(): any {
    for (const child of this.children) child.remove();
    this.children = [];
    return super.remove();
  }
}
