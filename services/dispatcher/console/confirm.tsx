import type { JSX } from 'preact';
import { useState } from 'preact/hooks';

/** A button that asks once more in place (no dialog) before running a destructive action. */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => Promise<void> | void; disabled?: boolean; danger?: boolean }): JSX.Element {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" class={props.danger ? 'danger' : undefined} disabled={props.disabled || busy} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={props.label}>
      <button
        type="button"
        class={props.danger ? 'danger' : undefined}
        disabled={busy}
        autoFocus
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {props.confirm}
      </button>
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}
