/**
 * An AbortController made only when its signal is first read. Every config version has one
 * (listeners tie their work to it), but most versions are replaced without anyone reading it:
 * a controller, its signal and an abort dispatch per reload were pure garbage. Aborted before
 * the signal exists, it keeps the reason, and the signal starts out aborted with it.
 */
export class LazyAbortController {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** The first reason stays, as with AbortController. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
