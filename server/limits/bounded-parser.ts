// Socket.IO's packet decoder with size limits enforced BEFORE parsing: a text packet longer than
// the metadata limit, or a packet announcing more than one binary attachment, is refused without
// JSON.parse ever seeing it (Socket.IO then closes that connection). Binary attachments are bounded
// by the engine's maxHttpBufferSize, set from the largest model's update.
import { Decoder, Encoder } from 'socket.io-parser';
import { MAX_METADATA_BYTES } from '../../shared/protocol/messages.ts';

/** Room for the packet's own header (type, namespace, ack id) around the metadata. */
const PACKET_OVERHEAD = 256;
export const MAX_TEXT_PACKET_BYTES = MAX_METADATA_BYTES + PACKET_OVERHEAD;

class BoundedDecoder extends Decoder {
  constructor() {
    // One attachment: an update's delta. Nothing else we accept is binary.
    super({ maxAttachments: 1 });
  }

  override add(packet: unknown): void {
    // The limit is in bytes: 1,500 × "€" is 1,500 characters but 4,500 bytes. A string has at least
    // as many UTF-8 bytes as characters, so a long one is refused before its bytes are counted.
    if (typeof packet === 'string' && (packet.length > MAX_TEXT_PACKET_BYTES || Buffer.byteLength(packet) > MAX_TEXT_PACKET_BYTES)) {
      throw new Error(`message of ${packet.length} characters is over the ${MAX_TEXT_PACKET_BYTES}-byte limit`);
    }
    super.add(packet);
  }
}

export const boundedParser = { Encoder, Decoder: BoundedDecoder };
