// A small menu button: Enter/Space/ArrowDown opens it, arrows move, Escape closes.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";

export type MenuItem = { label: string; icon?: ComponentChildren; danger?: boolean; onSelect: () => void };

export function MenuButton({ label, icon, items }: { label: string; icon: ComponentChildren; items: MenuItem[] }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);
  const id = useId();

  useEffect(() => {
    if (!open) return;
    (menu.current?.querySelector("[role=menuitem]") as HTMLElement | null)?.focus();
    const away = (e: Event) => {
      const t = e.target as Node;
      if (!menu.current?.contains(t) && !button.current?.contains(t)) setOpen(false);
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);

  function close(refocus: boolean) {
    setOpen(false);
    if (refocus) button.current?.focus();
  }

  function onKey(e: KeyboardEvent) {
    const all = Array.from(menu.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? []);
    const at = all.indexOf(document.activeElement as HTMLElement);
    if (e.key === "Escape") { e.preventDefault(); close(true); }
    else if (e.key === "ArrowDown") { e.preventDefault(); all[(at + 1) % all.length]?.focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); all[(at - 1 + all.length) % all.length]?.focus(); }
    else if (e.key === "Home") { e.preventDefault(); all[0]?.focus(); }
    else if (e.key === "End") { e.preventDefault(); all[all.length - 1]?.focus(); }
    else if (e.key === "Tab") close(false);
  }

  return (
    <div class="dd-wrap">
      <button ref={button} type="button" class="icon-btn" aria-label={label} aria-haspopup="menu"
        aria-expanded={open} aria-controls={open ? id : undefined}
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => { if (e.key === "ArrowDown" && !open) { e.preventDefault(); setOpen(true); } }}>
        {icon}
      </button>
      {open && (
        <ul ref={menu} id={id} role="menu" class="dd-menu" aria-label={label} onKeyDown={onKey}>
          {items.map((item) => (
            <li key={item.label} role="none">
              <button type="button" role="menuitem" tabIndex={-1}
                class={`dd-item ${item.danger ? "is-danger" : ""}`}
                onClick={() => { close(true); item.onSelect(); }}>
                {item.icon}
                <span>{item.label}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
