// The part of the WebAssembly JS API that shared/ uses. Every runtime Flock runs in (Node, the
// page, the worker) has it, but TypeScript declares it only with the DOM or Node types, which
// shared/ is compiled without (shared/tsconfig.json) so that its purity is checked.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}
