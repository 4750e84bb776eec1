// A square canvas to draw one digit on with a mouse, a pen or a finger (pointer events),
// and a Clear button. Used by the "try it" panel and by the participant page's labelling.
// Strokes are opaque on a transparent canvas, so the alpha channel is the ink
// (see mnist-pixels.ts); the black background is CSS only.
import { inkFromRgba, mnistPixelsFromInk } from './mnist-pixels.ts';
import './digit-pad.css';

/** Canvas resolution; CSS scales it to the space it gets. */
export const PAD_SIZE_PX = 280;
/** About a tenth of the pad: after scaling to 20 px, strokes are about 2 px wide, as in MNIST. */
const STROKE_WIDTH_PX = 22;

export interface DigitPadOptions {
  /** data-testid of the canvas. */
  testId?: string;
  /** Accessible name of the canvas, e.g. "draw a digit to classify". */
  label?: string;
}

export interface DigitPad {
  /** The pad and its Clear button; place it anywhere. */
  readonly element: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  /** Called when the pointer lifts at the end of a stroke. */
  onStrokeEnd(listener: () => void): void;
  /** Called after the pad was cleared (by its button or by clear()). */
  onClear(listener: () => void): void;
  clear(): void;
  isEmpty(): boolean;
}

/** The drawing as an MNIST example: 784 grey levels 0..255, white digit on black, centred. */
export function toMnistPixels(canvas: HTMLCanvasElement): Uint8Array {
  const { width, height } = canvas;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) throw new Error('the digit pad has no 2D canvas context');
  return mnistPixelsFromInk(inkFromRgba(context.getImageData(0, 0, width, height).data, width, height), width, height);
}

export function createDigitPad(options: DigitPadOptions = {}): DigitPad {
  const element = document.createElement('div');
  element.className = 'digit-pad';
  const canvas = document.createElement('canvas');
  canvas.width = PAD_SIZE_PX;
  canvas.height = PAD_SIZE_PX;
  canvas.className = 'digit-pad-canvas';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', options.label ?? 'drawing pad: draw one digit');
  if (options.testId) canvas.dataset.testid = options.testId;
  const clearButton = document.createElement('button');
  clearButton.type = 'button';
  clearButton.className = 'digit-pad-clear';
  clearButton.textContent = 'Clear';
  element.append(canvas, clearButton);

  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) throw new Error('the digit pad has no 2D canvas context');
  context.lineWidth = STROKE_WIDTH_PX;
  context.lineCap = 'round';
  context.lineJoin = 'round';
  context.strokeStyle = '#fff';
  context.fillStyle = '#fff';

  const strokeEndListeners: (() => void)[] = [];
  const clearListeners: (() => void)[] = [];
  let empty = true;
  let activePointer: number | null = null;
  let last = { x: 0, y: 0 };

  // The canvas is drawn at PAD_SIZE_PX but shown at whatever size CSS gives it.
  const toCanvas = (event: PointerEvent) => {
    const rect = canvas.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * canvas.width) / rect.width, y: ((event.clientY - rect.top) * canvas.height) / rect.height };
  };

  canvas.addEventListener('pointerdown', (event) => {
    if (activePointer !== null || event.button !== 0) return;
    activePointer = event.pointerId;
    canvas.setPointerCapture(event.pointerId);
    last = toCanvas(event);
    // A tap leaves a dot.
    context.beginPath();
    context.arc(last.x, last.y, STROKE_WIDTH_PX / 2, 0, 2 * Math.PI);
    context.fill();
    empty = false;
    event.preventDefault();
  });
  canvas.addEventListener('pointermove', (event) => {
    if (event.pointerId !== activePointer) return;
    // Coalesced events keep fast strokes smooth where the browser batches moves per frame.
    const events = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
    context.beginPath();
    context.moveTo(last.x, last.y);
    for (const e of events.length > 0 ? events : [event]) {
      last = toCanvas(e);
      context.lineTo(last.x, last.y);
    }
    context.stroke();
  });
  const endStroke = (event: PointerEvent) => {
    if (event.pointerId !== activePointer) return;
    activePointer = null;
    for (const listener of strokeEndListeners) listener();
  };
  canvas.addEventListener('pointerup', endStroke);
  canvas.addEventListener('pointercancel', endStroke);

  const clear = () => {
    context.clearRect(0, 0, canvas.width, canvas.height);
    empty = true;
    for (const listener of clearListeners) listener();
  };
  clearButton.addEventListener('click', clear);

  return {
    element,
    canvas,
    onStrokeEnd: (listener) => void strokeEndListeners.push(listener),
    onClear: (listener) => void clearListeners.push(listener),
    clear,
    isEmpty: () => empty,
  };
}
