// Widgets built with anywidget (https://anywidget.dev): their JavaScript travels in the model's
// own state (`_esm`, and `_css`), so a runtime that has the Python package shows them with no
// extension to install and nothing fetched from a CDN. The module runs in the widget's sandboxed
// frame like the rest of the widget code.
//
// The module's default export is `{ initialize?, render? }` or a function returning it;
// `initialize({ model })` runs once per model, `render({ model, el })` once per view and may
// return a function that cleans up. `model` is the widget's model (get, set, save_changes, on,
// off, send), as anywidget hands it.
import { DOMWidgetModel, DOMWidgetView, type WidgetModel } from "@jupyter-widgets/base";

type Cleanup = (() => void) | void;
type AnyWidget = {
  initialize?: (p: { model: WidgetModel; experimental: object }) => Cleanup | Promise<Cleanup>;
  render?: (p: { model: WidgetModel; el: HTMLElement; experimental: object }) => Cleanup | Promise<Cleanup>;
};

const modules = new Map<string, Promise<AnyWidget>>();
const initialized = new WeakMap<WidgetModel, Promise<unknown>>();
const styled = new Set<string>();

async function load(esm: string): Promise<AnyWidget> {
  let found = modules.get(esm);
  if (!found) {
    found = (async () => {
      const url = /^(https?:|data:|blob:)/.test(esm.trim())
        ? esm.trim()
        : URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
      const mod = await import(/* @vite-ignore */ url);
      let widget = mod.default ?? mod;
      if (typeof widget === "function") widget = await widget();
      return widget as AnyWidget;
    })();
    modules.set(esm, found);
  }
  return found;
}

function addCss(css: string): void {
  if (!css || styled.has(css)) return;
  styled.add(css);
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
}

export class AnyModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      _model_name: "AnyModel",
      _model_module: "anywidget",
      _view_name: "AnyView",
      _view_module: "anywidget",
    };
  }
}

export class AnyView extends DOMWidgetView {
  private cleanup: Cleanup = undefined;

  async render(): Promise<void> {
    const model = this.model;
    try {
      addCss(String(model.get("_css") ?? ""));
      const widget = await load(String(model.get("_esm") ?? ""));
      if (!initialized.has(model)) initialized.set(model, Promise.resolve(widget.initialize?.({ model, experimental: {} })));
      await initialized.get(model);
      this.cleanup = await widget.render?.({ model, el: this.el, experimental: {} });
    } catch (err) {
      const pre = document.createElement("pre");
      pre.className = "dikte-widget-fallback";
      pre.textContent = `This widget's JavaScript failed: ${err instanceof Error ? err.message : String(err)}`;
      this.el.replaceChildren(pre);
    }
  }

  remove(): any {
    if (typeof this.cleanup === "function") this.cleanup();
    return super.remove();
  }
}
