// How a class joins: the join URL as text and as a large QR code, and the room code.
// The coordinator lists its LAN addresses first (with ?room=CODE in them), so the first
// URL is the one a phone in the same network can open.
import QRCode from 'qrcode';
import type { RunState } from '../../shared/protocol/records.ts';

export interface JoinElements {
  /** Holds the QR code's SVG; carries the encoded URL in data-url. */
  qr: HTMLElement;
  url: HTMLAnchorElement;
  roomCode: HTMLElement;
  /** The other addresses, and a warning when only this computer can join. */
  note: HTMLElement;
}

/** The URL to show: the coordinator's first join URL, else this page's origin. */
export function primaryJoinUrl(joinUrls: readonly string[], origin: string): string {
  return joinUrls[0] ?? `${origin}/`;
}

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

/** "http://192.168.1.20:8080/?room=K7PQ" → "192.168.1.20:8080/?room=K7PQ": what people type. */
export function displayUrl(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

export function createJoinPanel(elements: JoinElements): { show(state: Pick<RunState, 'joinUrls' | 'roomCode'>): void } {
  let shownUrl = '';
  let shownNote = '';

  async function drawQr(url: string): Promise<void> {
    // Level M survives a smudged projector; a 4-module quiet zone is what readers expect.
    const svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 4, color: { dark: '#000000', light: '#ffffff' } });
    if (url !== shownUrl) return; // a newer URL arrived while this one was drawn
    elements.qr.innerHTML = svg; // the library's own markup; the URL itself is not in it
    elements.qr.dataset.url = url;
    elements.qr.querySelector('svg')?.setAttribute('aria-hidden', 'true');
    elements.qr.title = `QR code for ${url}`;
  }

  return {
    show({ joinUrls, roomCode }) {
      const url = primaryJoinUrl(joinUrls, location.origin);
      if (url !== shownUrl) {
        shownUrl = url;
        elements.url.href = url;
        elements.url.textContent = displayUrl(url);
        drawQr(url).catch((error: unknown) => {
          elements.qr.textContent = `QR code failed: ${(error as Error).message}`;
        });
      }
      elements.roomCode.textContent = roomCode ?? 'open';
      elements.roomCode.dataset.open = String(roomCode === null);
      const others = joinUrls.slice(1).filter((u) => !isLoopbackUrl(u));
      const note = isLoopbackUrl(url)
        ? 'Only this computer can join: no network address found. Connect to the class Wi-Fi and restart the coordinator.'
        : others.length > 0
          ? `Also: ${others.map(displayUrl).join(' · ')}`
          : '';
      if (note !== shownNote) {
        shownNote = note;
        elements.note.textContent = note;
        elements.note.hidden = note === '';
      }
    },
  };
}
