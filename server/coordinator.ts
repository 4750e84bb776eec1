// Composes one room: its tabs, its round state machine and its data. The
// transport (plugins/socket.ts) attaches itself as `transport` to carry events out.
import { modelSpec } from '../shared/model-spec.ts';
import type { RoundMetrics, RoundStart, RunState } from '../shared/protocol.ts';
import type { Settings } from '../shared/settings.ts';
import type { Mnist } from './dataset.ts';
import { ShardStore } from './dataset.ts';
import { Room } from './room.ts';
import { RoundController, type Evaluator, type Timers, realTimers } from './round.ts';
import type { Access } from './access.ts';

export interface Transport {
  sendRoundStart(clientIds: string[], start: RoundStart): void;
  publishRoundDone(metrics: RoundMetrics): void;
  stateChanged(): void;
}

export class Coordinator {
  readonly room = new Room();
  readonly rounds: RoundController;
  readonly shards: ShardStore;
  transport: Transport | null = null;

  constructor(
    settings: Settings,
    mnist: Mnist,
    evaluator: Evaluator,
    readonly access: Access,
    /** Where participants can reach this coordinator, e.g. http://192.168.1.20:8080/ (LAN first). */
    private readonly baseUrls: string[],
    log: (message: string) => void,
    timers: Timers = realTimers,
  ) {
    this.shards = new ShardStore(mnist.train);
    this.rounds = new RoundController(
      settings,
      this.room,
      evaluator,
      {
        sendRoundStart: (ids, start) => this.transport?.sendRoundStart(ids, start),
        publishRoundDone: (metrics) => this.transport?.publishRoundDone(metrics),
        stateChanged: () => this.transport?.stateChanged(),
        log,
      },
      timers,
    );
  }

  get settings(): Settings {
    return this.rounds.settings;
  }

  runState(): RunState {
    const spec = modelSpec(this.settings.model);
    const query = this.access.roomCode ? `?room=${this.access.roomCode}` : '';
    return {
      ...this.rounds.state(),
      clients: this.room.view(),
      modelTitle: spec.title,
      paramCount: spec.paramCount,
      joinUrls: this.baseUrls.map((url) => `${url}${query}`),
      roomCode: this.access.roomCode,
    };
  }

  /** Bytes on the wire to/from one tab: counted for the tab and for the current round. */
  recordTraffic(clientId: string | undefined, bytesSent: number, bytesReceived: number): void {
    if (clientId) this.room.recordTraffic(clientId, bytesSent, bytesReceived);
    this.rounds.recordTraffic(bytesSent, bytesReceived);
  }
}
