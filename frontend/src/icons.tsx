// Small inline icons (Material-like paths), sized by CSS and hidden from screen readers.
function Svg({ d, class: cls, title }: { d: string; class?: string; title?: string }) {
  return (
    <svg class={`icon ${cls ?? ""}`} viewBox="0 0 24 24" aria-hidden={title ? undefined : "true"}
      role={title ? "img" : undefined} focusable="false">
      {title && <title>{title}</title>}
      <path d={d} fill="currentColor" />
    </svg>
  );
}

type P = { class?: string; title?: string };

export const FolderIcon = (p: P) =>
  <Svg {...p} d="M10 4H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V8c0-1.1-.9-2-2-2h-8l-2-2z" />;
export const NotebookIcon = (p: P) =>
  <Svg {...p} d="M6 2h9l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm8 1.5V8h4.5L14 3.5zM7.5 12.2l2.3 2.3-2.3 2.3 1.1 1.1 3.4-3.4-3.4-3.4-1.1 1.1zM12.5 17.5h4V16h-4v1.5z" />;
export const FileIcon = (p: P) =>
  <Svg {...p} d="M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5L13 3.5zM8 13h8v1.5H8V13zm0 3.5h8V18H8v-1.5z" />;
export const DriveIcon = (p: P) =>
  <Svg {...p} d="M20 6h-8l-2-2H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V8c0-1.1-.9-2-2-2zm-2.06 11L15 15.28 12.06 17l.78-3.33-2.59-2.24 3.41-.29L15 8l1.34 3.14 3.41.29-2.59 2.24.78 3.33z" />;
export const SessionsIcon = (p: P) =>
  <Svg {...p} d="M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-6v2h3v2H7v-2h3v-2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 2v9h16V6H4zm2 2h5v1.5H6V8zm0 3h8v1.5H6V11z" />;
export const PlusIcon = (p: P) => <Svg {...p} d="M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6v2z" />;
export const NewFolderIcon = (p: P) =>
  <Svg {...p} d="M20 6h-8l-2-2H4c-1.11 0-2 .89-2 2v12c0 1.1.89 2 2 2h16c1.1 0 2-.9 2-2V8c0-1.1-.9-2-2-2zm-1 8h-3v3h-2v-3h-3v-2h3V9h2v3h3v2z" />;
export const UploadIcon = (p: P) => <Svg {...p} d="M9 16h6v-6h4l-7-7-7 7h4v6zm-4 2h14v2H5v-2z" />;
export const DownloadIcon = (p: P) => <Svg {...p} d="M19 9h-4V3H9v6H5l7 7 7-7zM5 18v2h14v-2H5z" />;
export const RenameIcon = (p: P) =>
  <Svg {...p} d="M3 17.25V21h3.75L17.81 9.94l-3.75-3.75L3 17.25zM20.71 7.04a1 1 0 0 0 0-1.41l-2.34-2.34a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75 1.83-1.83z" />;
export const MoveIcon = (p: P) =>
  <Svg {...p} d="M20 6h-8l-2-2H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V8c0-1.1-.9-2-2-2zm-6 12v-3h-4v-4h4V8l5 5-5 5z" />;
export const DeleteIcon = (p: P) =>
  <Svg {...p} d="M6 19c0 1.1.9 2 2 2h8c1.1 0 2-.9 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z" />;
export const MoreIcon = (p: P) =>
  <Svg {...p} d="M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm0 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z" />;
export const CloseIcon = (p: P) =>
  <Svg {...p} d="M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z" />;
export const ChevronIcon = (p: P) => <Svg {...p} d="M10 6 8.59 7.41 13.17 12l-4.58 4.59L10 18l6-6z" />;
export const CheckIcon = (p: P) => <Svg {...p} d="M9 16.17 4.83 12l-1.42 1.41L9 19 21 7l-1.41-1.41z" />;
export const ErrorIcon = (p: P) =>
  <Svg {...p} d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2v2zm0-4h-2V7h2v6z" />;
export const SignOutIcon = (p: P) =>
  <Svg {...p} d="M10.09 15.59 11.5 17l5-5-5-5-1.41 1.41L12.67 11H3v2h9.67l-2.58 2.59zM19 3H5a2 2 0 0 0-2 2v4h2V5h14v14H5v-4H3v4a2 2 0 0 0 2 2h14c1.1 0 2-.9 2-2V5a2 2 0 0 0-2-2z" />;
export const RefreshIcon = (p: P) =>
  <Svg {...p} d="M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.73 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4l-2.35 2.35z" />;

export const UsageIcon = (p: P) =>
  <Svg {...p} d="M5 9.2h3V19H5V9.2zM10.6 5h2.8v14h-2.8V5zm5.6 8H19v6h-2.8v-6z" />;
export const AdminIcon = (p: P) =>
  <Svg {...p} d="M12 1 3 5v6c0 5.55 3.84 10.74 9 12 5.16-1.26 9-6.45 9-12V5l-9-4zm0 10.99h7c-.53 4.12-3.28 7.79-7 8.94V12H5V6.3l7-3.11v8.8z" />;
export const KeyIcon = (p: P) =>
  <Svg {...p} d="M12.65 10A6 6 0 1 0 12.65 14H17v4h4v-4h2v-4H12.65zM7 14a2 2 0 1 1 0-4 2 2 0 0 1 0 4z" />;
export const CopyIcon = (p: P) =>
  <Svg {...p} d="M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z" />;

/** The Dikte mark: a notebook page with a run triangle. */
export function Logo({ class: cls }: { class?: string }) {
  return (
    <svg viewBox="0 0 32 32" class={`logo ${cls ?? ""}`} aria-hidden="true" focusable="false">
      <rect x="3" y="3" width="26" height="26" rx="7" fill="var(--logo-a)" />
      <path d="M12 10.5v11l9-5.5z" fill="var(--logo-b)" />
    </svg>
  );
}
