// "Teach it your own digits": draw a digit, say which one it is, and it joins this
// tab's local data for the next round. The drawing never leaves the page.
import { createDigitPad, toMnistPixels } from '../digit-pad/digit-pad.ts';

export interface DrawPanel {
  readonly element: HTMLElement;
  setEnabled(enabled: boolean): void;
}

/** `onLabelled` adds the example; it resolves when the worker has it. */
export function createDrawPanel(onLabelled: (pixels: Uint8Array, label: number) => Promise<void>): DrawPanel {
  const element = document.createElement('div');
  element.className = 'card draw-panel';
  element.innerHTML = `<h2>Teach it your own digits</h2>
    <p class="muted">Draw a digit, then press the digit it is. It is added to this tab's training data for the next round and stays on this device.</p>`;
  const pad = createDigitPad({ testId: 'draw-pad', label: 'draw a digit to add to your training data' });
  const buttons = document.createElement('div');
  buttons.className = 'label-buttons';
  buttons.dataset.testid = 'label-buttons';
  const feedback = document.createElement('p');
  feedback.className = 'muted';
  feedback.dataset.testid = 'draw-feedback';
  for (let digit = 0; digit <= 9; digit++) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = String(digit);
    button.dataset.testid = `label-${digit}`;
    button.onclick = async () => {
      if (pad.isEmpty()) {
        feedback.textContent = 'Draw a digit first.';
        return;
      }
      const pixels = toMnistPixels(pad.canvas);
      try {
        await onLabelled(pixels, digit);
        feedback.textContent = `Added your ${digit}: it will be used in the next round.`;
        pad.clear();
      } catch (error) {
        feedback.textContent = `Could not add it: ${(error as Error).message}`;
      }
    };
    buttons.append(button);
  }
  element.append(pad.element, buttons, feedback);
  return {
    element,
    setEnabled(enabled) {
      for (const button of buttons.querySelectorAll('button')) button.disabled = !enabled;
    },
  };
}
