// A Svelte action for modal dialogs: focus moves in (to `[data-autofocus]` or the first
// control), Tab and Shift+Tab stay inside, Escape closes, and focus returns to where it
// was. Dialogs can stack (a link to confirm over the settings): only the top one acts.
// An incoming call's banner (`data-modal-exempt`) may take focus from any dialog: a
// ringing call must be answerable with Enter whatever the agent was doing.

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), ' +
  'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

const stack: HTMLElement[] = [];
const top = () => stack[stack.length - 1];

function focusables(node: HTMLElement): HTMLElement[] {
  return [...node.querySelectorAll<HTMLElement>(FOCUSABLE)];
}

export interface ModalOptions {
  onclose: () => void;
}

export function modal(node: HTMLElement, options: ModalOptions) {
  let current = options;
  const returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  stack.push(node);
  const first = () => node.querySelector<HTMLElement>('[data-autofocus]') ?? focusables(node)[0];
  first()?.focus();

  const onkeydown = (e: KeyboardEvent) => {
    if (top() !== node) return;
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      current.onclose();
    } else if (e.key === 'Tab') {
      const all = focusables(node);
      const [start, end] = [all[0], all[all.length - 1]];
      if (document.activeElement === (e.shiftKey ? start : end)) {
        e.preventDefault();
        (e.shiftKey ? end : start)?.focus();
      }
    }
  };
  // Whatever else moves focus out (a click on the backdrop, a control that vanished)
  // brings it back in.
  const onfocusin = (e: FocusEvent) => {
    const target = e.target;
    const outside = target instanceof Element && !node.contains(target);
    if (top() === node && outside && !target.closest('[data-modal-exempt]')) {
      first()?.focus();
    }
  };
  node.addEventListener('keydown', onkeydown);
  document.addEventListener('focusin', onfocusin);

  return {
    update(next: ModalOptions) {
      current = next;
    },
    destroy() {
      node.removeEventListener('keydown', onkeydown);
      document.removeEventListener('focusin', onfocusin);
      stack.splice(stack.indexOf(node), 1);
      if (returnTo?.isConnected) returnTo.focus();
    },
  };
}
