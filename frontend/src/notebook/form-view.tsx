// A code cell's Colab form: title, Markdown lines and one control per #@param field, beside the
// code (below it when the cell is narrow), or alone when the code is hidden. A change to a control
// rewrites that field's source line (see forms.ts); the cell saves and syncs it like typing.
import { useId, useState } from "preact/hooks";
import type { Form, FormField, FormItem, Value } from "./forms";
import { Markdown } from "./markdown";
import "../styles/forms.css";

/** How a cell with a form shows: Colab's cell metadata `cellView` ("form": the form alone,
 * "code": the code alone, "both"); without it, the title's display-mode decides. */
export type CellView = "form" | "code" | "both";

export function cellView(metadata: Record<string, unknown>, form: Form): CellView {
  const v = metadata.cellView;
  if (v === "form" || v === "code" || v === "both") return v;
  return form.displayMode === "form" ? "form" : "both";
}

type Props = {
  form: Form;
  cellId: string;
  view: CellView;
  /** `commit`: the person finished this change (Enter, leaving the field, a pick). */
  onChange(field: FormField, value: Value, commit: boolean): void;
  onView(view: CellView): void;
  /** Shift+Enter (run and go on) or Ctrl+Enter (run) in a field. */
  onRun(advance: boolean): void;
};

export function FormView({ form, cellId, view, onChange, onView, onRun }: Props) {
  const hidden = view === "form";
  return (
    <section class={`cell-form${hidden ? " form-only" : ""}`} data-form-for={cellId}
      aria-label={form.title ? `Form: ${form.title}` : "Form"}>
      <div class="form-head">
        {form.title ? <div class="form-title"><Markdown source={form.title} /></div> : <span />}
        <button type="button" class="form-toggle" aria-pressed={!hidden}
          title={hidden ? "Show the code beside the form" : "Show the form alone"}
          onClick={() => onView(hidden ? "both" : "form")}>
          {hidden ? "Show code" : "Hide code"}
        </button>
      </div>
      {groupMarkdown(form.items).map((item) =>
        item.kind === "markdown" ? (
          <div class="form-markdown" key={`md${item.line}`}><Markdown source={item.text} /></div>
        ) : item.kind === "error" ? (
          <p class="form-bad-line" key={`e${item.line}`} role="note">
            Line {item.line + 1}: the @param of <code>{item.name}</code> cannot be read ({item.message}); it runs as
            written.
          </p>
        ) : (
          <Field key={`f${item.field.line}:${item.field.name}`} field={item.field} onChange={onChange} onRun={onRun} />
        ),
      )}
    </section>
  );
}

/** Consecutive #@markdown lines render as one block (so lists and paragraphs work). */
function groupMarkdown(items: FormItem[]): FormItem[] {
  const out: FormItem[] = [];
  for (const item of items) {
    const last = out[out.length - 1];
    if (item.kind === "markdown" && last?.kind === "markdown" && last.line + last.text.split("\n").length === item.line) {
      out[out.length - 1] = { ...last, text: `${last.text}\n${item.text}` };
    } else out.push(item);
  }
  return out;
}

function shown(field: FormField): string {
  return typeof field.value === "string" ? field.value : field.widget === "text" ? field.text.trim() : String(field.value);
}

function Field({ field, onChange, onRun }: { field: FormField; onChange: Props["onChange"]; onRun: Props["onRun"] }) {
  const id = useId();
  const listId = useId();
  // what the person is typing: kept while the field has focus, so a rewrite of the source (or
  // a value that cannot be written yet, such as "-" in a number) never moves their cursor
  const [draft, setDraft] = useState<string | null>(null);
  const value = draft ?? shown(field);
  const typed = (v: string) => {
    setDraft(v);
    onChange(field, v, false);
  };
  const done = (v: string) => {
    setDraft(null);
    onChange(field, v, true);
  };
  const common = {
    id,
    name: field.name,
    "data-field": field.name,
    placeholder: field.placeholder,
    onInput: (e: Event) => typed((e.currentTarget as HTMLInputElement).value),
    onChange: (e: Event) => done((e.currentTarget as HTMLInputElement).value),
    onBlur: () => setDraft(null),
    onKeyDown: (e: KeyboardEvent) => {
      e.stopPropagation(); // typing in a field is not a notebook shortcut
      if (e.key !== "Enter") return;
      if (e.shiftKey || e.ctrlKey || e.metaKey) {
        e.preventDefault();
        done((e.currentTarget as HTMLInputElement).value);
        onRun(e.shiftKey);
      } else (e.currentTarget as HTMLInputElement).blur();
    },
  };
  let control;
  switch (field.widget) {
    case "checkbox":
      control = (
        <input type="checkbox" id={id} name={field.name} data-field={field.name} checked={field.value === true}
          onChange={(e) => onChange(field, e.currentTarget.checked, true)} />
      );
      break;
    case "slider":
      control = (
        <span class="form-slider">
          <input {...common} type="range" min={field.min} max={field.max} step={field.step} value={value}
            onChange={(e) => onChange(field, e.currentTarget.value, true)} />
          <output for={id}>{value}</output>
        </span>
      );
      break;
    case "dropdown":
      control = field.allowInput ? (
        <>
          <input {...common} type="text" list={listId} value={value} autocomplete="off" spellcheck={false} />
          <datalist id={listId}>{field.options!.map((o) => <option key={o} value={o} />)}</datalist>
        </>
      ) : (
        <select id={id} name={field.name} data-field={field.name} value={value}
          onChange={(e) => onChange(field, e.currentTarget.value, true)}>
          {[...(field.options!.includes(value) ? [] : [value]), ...field.options!].map((o) => (
            <option key={o} value={o}>{o}</option>
          ))}
        </select>
      );
      break;
    case "date":
      control = <input {...common} type="date" value={value} />;
      break;
    case "number":
      control = <input {...common} type="number" step={field.type === "integer" ? 1 : "any"} value={value} />;
      break;
    default:
      control = <input {...common} type="text" class={field.type === "raw" ? "raw" : undefined} value={value} spellcheck={false} />;
  }
  return (
    <div class={`form-field form-${field.widget}`} data-type={field.type}>
      <label for={id}>{field.name}</label>
      {control}
    </div>
  );
}
