import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * A button that asks once more in place (no dialog) before running a destructive action. The
 * focus follows: onto the confirmation when it appears, back onto the button when it goes
 * (after the action, "Keep" or Escape), so a keyboard user is never dropped to the page's start.
 */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => Promise<void> | void; disabled?: boolean; danger?: boolean }): JSX.Element {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const action = useRef<HTMLButtonElement>(null);
  const confirm = useRef<HTMLButtonElement>(null);
  const group = useRef<HTMLSpanElement>(null);
  const refocus = useRef(false);
  useEffect(() => {
    if (asking) {
      confirm.current?.focus();
    } else if (refocus.current) {
      refocus.current = false;
      action.current?.focus();
    }
  }, [asking]);
  const stopAsking = () => {
    // Only take the focus back when it is still in the confirmation (not if the user moved on).
    refocus.current = group.current?.contains(document.activeElement) ?? false;
    setAsking(false);
  };
  if (!asking) {
    return (
      <button ref={action} type="button" class={props.danger ? 'danger' : undefined} disabled={props.disabled || busy} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span
      ref={group}
      class="confirm"
      role="group"
      aria-label={props.label}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && !busy) stopAsking();
      }}
    >
      <button
        ref={confirm}
        type="button"
        class={props.danger ? 'danger' : undefined}
        // aria-disabled, not disabled: a disabled button would drop the focus while the action runs.
        aria-disabled={busy ? true : undefined}
        onClick={async () => {
          if (busy) return;
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            stopAsking();
          }
        }}
      >
        {props.confirm}
      </button>
      <button type="button" class="secondary" onClick={stopAsking}>
        Keep
      </button>
    </span>
  );
}
