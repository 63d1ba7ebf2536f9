import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { ReloadError } from '../src/errors.ts';
import { hashToGauge, sha256Hex } from '../src/hash.ts';
import { type ReloadStage, STAGES } from '../src/semconv.ts';
import type { ReloadStages } from '../src/types.ts';
import { makeTarget, setup } from './harness.ts';

const T = { 'hotreload.target': 'app-config' };
const hang = () => new Promise<never>(() => {});

async function startup(h: ReturnType<typeof setup>, target = makeTarget('v0')) {
  const r = await h.reloads.reload({ target: 'app-config', trigger: 'startup' }, target.stages('v1'));
  assert.equal(r.outcome, 'success');
  h.exporter.reset();
  return target;
}

describe('success', () => {
  test('one root span with four stage children in order, attributes and metrics', async () => {
    const h = setup();
    const t = makeTarget('v0');
    const r = await h.reloads.reload({ target: 'app-config', trigger: 'signal', timeoutMs: 5000 }, t.stages('v1'));
    assert.equal(r.outcome, 'success');
    assert.equal(r.stage, 'unload');
    assert.equal(r.generation, 1);
    assert.equal(r.hash, sha256Hex('v1'));
    assert.equal(r.error, undefined);
    assert.deepEqual(r.stages.map((s) => s.stage), ['load', 'verify', 'switch', 'unload'].filter((s) => s !== 'verify'));
    assert.equal(t.box.active, 'v1');
    assert.deepEqual(t.box.unloaded, ['v0']);

    const spans = (await h.spans());
    const root = spans.find((s) => s.name === 'hotreload');
    assert.ok(root);
    assert.equal(root.kind, SpanKind.INTERNAL);
    assert.deepEqual(root.attributes, {
      'hotreload.target': 'app-config',
      'hotreload.trigger': 'signal',
      'hotreload.outcome': 'success',
      'hotreload.generation': 1,
      'hotreload.config.hash': sha256Hex('v1'),
      'hotreload.config.size': 2,
    });
    const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
    assert.deepEqual(children.map((s) => s.name), ['hotreload.load', 'hotreload.switch', 'hotreload.unload']);
    for (const c of children) {
      assert.equal(c.spanContext().traceId, root.spanContext().traceId);
      assert.equal(c.attributes['hotreload.stage'], c.name.slice('hotreload.'.length));
    }
    assert.equal(r.traceId, root.spanContext().traceId);

    assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'signal', 'hotreload.outcome': 'success' }), 1);
    for (const o of ['failure', 'timeout', 'rollback', 'unchanged']) {
      assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'signal', 'hotreload.outcome': o }), 0, o);
    }
    assert.equal(await h.value('hotreload.duration', { ...T, 'hotreload.outcome': 'success' }), 1);
    assert.equal(await h.value('hotreload.stage.duration', { ...T, 'hotreload.stage': 'switch', 'hotreload.outcome': 'success' }), 1);
    assert.equal(await h.value('hotreload.config.hash', T), hashToGauge(sha256Hex('v1')));
    assert.equal(await h.value('hotreload.config.info', { ...T, 'hotreload.config.hash': sha256Hex('v1'), 'hotreload.config.version': '' }), 1);
    assert.equal(await h.value('hotreload.generation', T), 1);
    assert.equal(await h.value('hotreload.last_reload.success', T), 1);
    assert.equal(await h.value('hotreload.consecutive_failures', T), 0);
    assert.equal(await h.value('hotreload.in_progress', T), 0);
    const ts = await h.value('hotreload.last_success.timestamp', T);
    assert.ok(ts !== undefined && Math.abs(ts - Date.now() / 1000) < 60);
  });

  test('root span is a child of the caller context and links to the previous run', async () => {
    const h = setup();
    const t = makeTarget('v0');
    const outer = h.tracerProvider.getTracer('test').startSpan('request');
    await context.with(trace.setSpan(context.active(), outer), () => h.reloads.reload({ target: 'app-config' }, t.stages('v1')));
    outer.end();
    await h.reloads.reload({ target: 'app-config' }, t.stages('v2'));
    const roots = (await h.spans()).filter((s) => s.name === 'hotreload');
    assert.equal(roots.length, 2);
    assert.equal(roots[0]?.parentSpanContext?.spanId, outer.spanContext().spanId);
    assert.deepEqual(roots[1]?.links.map((l) => l.context.spanId), [roots[0]?.spanContext().spanId]);
    assert.equal(roots[1]?.attributes['hotreload.config.previous_hash'], sha256Hex('v1'));
  });
});

describe('failure in each stage', () => {
  for (const stage of ['load', 'verify'] as const) {
    test(`${stage} throws: outcome failure, nothing changes, error recorded on stage and root`, async () => {
      const h = setup();
      const t = await startup(h);
      const stages: ReloadStages<string, string> = {
        ...t.stages('v2'),
        verify: async () => {},
        [stage]: async () => {
          throw new ReloadError('schema_violation', 'port must be a number');
        },
      };
      const r = await h.reloads.reload({ target: 'app-config', trigger: 'file' }, stages);
      assert.equal(r.outcome, 'failure');
      assert.equal(r.stage, stage);
      assert.equal(r.error?.code, 'schema_violation');
      assert.equal(r.hash, sha256Hex('v1'), 'active hash unchanged');
      assert.equal(r.generation, 1);
      assert.equal(t.box.active, 'v1');
      const failed = (await h.spans()).find((s) => s.name === `hotreload.${stage}`);
      const root = (await h.spans()).find((s) => s.name === 'hotreload');
      for (const s of [failed, root]) {
        assert.equal(s?.status.code, SpanStatusCode.ERROR);
        assert.equal(s?.attributes['error.type'], 'schema_violation');
        const ev = s?.events.find((e) => e.name === 'exception');
        assert.equal(ev?.attributes?.['exception.type'], 'schema_violation');
        assert.equal(ev?.attributes?.['exception.message'], 'port must be a number');
      }
      assert.equal(root?.attributes['hotreload.outcome'], 'failure');
      assert.equal((await h.spans()).some((s) => s.name === 'hotreload.switch'), false);
      assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'file', 'hotreload.outcome': 'failure' }), 1);
      assert.equal(await h.value('hotreload.stage.duration', { ...T, 'hotreload.stage': stage, 'hotreload.outcome': 'failure' }), 1);
      assert.equal(await h.value('hotreload.config.hash', T), hashToGauge(sha256Hex('v1')), 'failure never changes the hash');
      assert.equal(await h.value('hotreload.last_reload.success', T), 0);
      assert.equal(await h.value('hotreload.consecutive_failures', T), 1);
      assert.equal(await h.value('hotreload.in_progress', T), 0);
    });
  }

  for (const stage of ['switch', 'unload'] as const) {
    test(`${stage} throws: rollback is called, outcome rollback, previous stays active`, async () => {
      const h = setup();
      const t = await startup(h);
      const base = t.stages('v2');
      const rolledBack: Array<string | undefined> = [];
      const stages: ReloadStages<string, string> = {
        ...base,
        [stage]: async (x: string) => {
          if (stage === 'unload') t.box.active = 'v2'; // the switch had taken effect
          void x;
          throw new TypeError('boom');
        },
        switch: stage === 'switch' ? async () => { throw new TypeError('boom'); } : base.switch,
        rollback: async (prev) => {
          rolledBack.push(prev);
          t.box.active = 'v1';
        },
      };
      const r = await h.reloads.reload({ target: 'app-config' }, stages);
      assert.equal(r.outcome, 'rollback');
      assert.equal(r.error?.code, 'TypeError');
      assert.deepEqual(rolledBack, [stage === 'switch' ? undefined : 'v1']);
      assert.equal(t.box.active, 'v1');
      assert.equal(r.hash, sha256Hex('v1'));
      assert.equal(r.generation, 1);
      const names = (await h.spans()).map((s) => s.name);
      assert.ok(names.includes('hotreload.rollback'));
      const failed = (await h.spans()).find((s) => s.name === `hotreload.${stage}`);
      assert.equal(failed?.status.code, SpanStatusCode.ERROR);
      // A plain error's message may quote config: only its type is exported by default.
      const ev = failed?.events.find((e) => e.name === 'exception');
      assert.equal(ev?.attributes?.['exception.type'], 'TypeError');
      assert.equal(ev?.attributes?.['exception.message'], undefined);
      assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'api', 'hotreload.outcome': 'rollback' }), 1);
      assert.equal(await h.value('hotreload.consecutive_failures', T), 1);
      assert.equal(await h.value('hotreload.in_progress', T), 0);
    });
  }

  test('a throwing rollback is failure with error.type rollback_failed and in_progress back to 0', async () => {
    const h = setup();
    const t = await startup(h);
    const r = await h.reloads.reload({ target: 'app-config' }, {
      ...t.stages('v2'),
      switch: async () => {
        throw new Error('switch broke');
      },
      rollback: async () => {
        throw new Error('rollback broke too');
      },
    });
    assert.equal(r.outcome, 'failure');
    assert.equal(r.error?.code, 'rollback_failed');
    const root = (await h.spans()).find((s) => s.name === 'hotreload');
    assert.equal(root?.attributes['error.type'], 'rollback_failed');
    assert.equal((await h.spans()).find((s) => s.name === 'hotreload.rollback')?.status.code, SpanStatusCode.ERROR);
    assert.equal(await h.value('hotreload.in_progress', T), 0);
    assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), 1);
  });
});

describe('after a failed rollback', () => {
  test('the next reload of the last reported version is not skipped as unchanged', async () => {
    const h = setup();
    const t = makeTarget('v0');
    assert.equal((await h.reloads.reload({ target: 'app-config' }, t.stages('v1'))).outcome, 'success');
    // v2 is switched in, unload fails, and the rollback throws: the service now runs v2 while
    // reloadscope still reports v1.
    const broken = await h.reloads.reload({ target: 'app-config' }, {
      ...t.stages('v2'),
      unload: async () => {
        throw new Error('unload broke');
      },
      rollback: async () => {
        throw new Error('rollback broke too');
      },
    });
    assert.equal(broken.error?.code, 'rollback_failed');
    assert.equal(t.box.active, 'v2');
    assert.equal(broken.hash, sha256Hex('v1'));
    const again = await h.reloads.reload({ target: 'app-config' }, t.stages('v1'));
    assert.equal(again.outcome, 'success', 'v1 hashes like the reported version, but v2 is what runs');
    assert.equal(t.box.active, 'v1');
    // Known again: the same content is unchanged from now on.
    assert.equal((await h.reloads.reload({ target: 'app-config' }, t.stages('v1'))).outcome, 'unchanged');
  });
});

describe('timeout in each stage', () => {
  for (const stage of ['load', 'verify', 'switch', 'unload'] as const satisfies readonly ReloadStage[]) {
    test(`${stage} hangs and ignores the signal: outcome timeout, in_progress 0`, async () => {
      const h = setup();
      const t = await startup(h);
      let sawAbort = false;
      const stages: ReloadStages<string, string> = {
        ...t.stages('v2'),
        verify: async () => {},
        [stage]: (_a: unknown, b: unknown) => {
          const ctx = (stage === 'load' ? _a : b) as { signal: AbortSignal };
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
          });
          if (stage === 'unload') t.box.active = 'v2';
          return hang();
        },
      };
      const r = await h.reloads.reload({ target: 'app-config', timeoutMs: 40 }, stages);
      assert.equal(r.outcome, 'timeout');
      assert.equal(r.stage, stage === 'unload' || stage === 'switch' ? 'rollback' : stage, 'a failed switch or unload is followed by rollback');
      assert.equal(r.error?.code, 'timeout');
      assert.ok(sawAbort, 'the stage was handed an AbortSignal that fired');
      assert.equal(r.hash, sha256Hex('v1'), 'a timed-out run never changes the active version');
      if (stage === 'unload') assert.equal(t.box.active, 'v1', 'rolled back after the switch');
      const span = (await h.spans()).find((s) => s.name === `hotreload.${stage}`);
      assert.equal(span?.attributes['error.type'], 'timeout');
      assert.equal((await h.spans()).find((s) => s.name === 'hotreload')?.attributes['hotreload.outcome'], 'timeout');
      assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'api', 'hotreload.outcome': 'timeout' }), 1);
      assert.equal(await h.value('hotreload.stage.duration', { ...T, 'hotreload.stage': stage, 'hotreload.outcome': 'timeout' }), 1);
      assert.equal(await h.value('hotreload.in_progress', T), 0);
    });
  }

  test('a switch that completes after the deadline is rolled back when it lands', async () => {
    const h = setup();
    const t = await startup(h);
    let land!: () => void;
    const landed = new Promise<void>((r) => {
      land = r;
    });
    const r = await h.reloads.reload({ target: 'app-config', timeoutMs: 30 }, {
      ...t.stages('v2'),
      switch: async () => {
        await landed;
        t.box.active = 'v2';
        return 'v1';
      },
    });
    assert.equal(r.outcome, 'timeout');
    land();
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(t.box.active, 'v1');
  });
});

describe('unchanged', () => {
  test('same content: outcome unchanged after load, no switch, no unload', async () => {
    const h = setup();
    const t = await startup(h);
    let switched = 0;
    const r = await h.reloads.reload({ target: 'app-config', trigger: 'file' }, {
      ...t.stages('v1'),
      switch: async () => {
        switched++;
        return 'x';
      },
    });
    assert.equal(r.outcome, 'unchanged');
    assert.equal(switched, 0);
    assert.deepEqual((await h.spans()).filter((s) => s.name !== 'hotreload').map((s) => s.name), ['hotreload.load']);
    assert.equal(r.generation, 1);
    assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'file', 'hotreload.outcome': 'unchanged' }), 1);
    assert.equal(await h.value('hotreload.last_reload.success', T), 1);
  });

  test('force runs even when unchanged; key order does not change an object hash', async () => {
    const h = setup();
    let active: object = { a: 1, b: 2 };
    const sw = async (c: object) => {
      const p = active;
      active = c;
      return p;
    };
    await h.reloads.reload({ target: 'o' }, { load: () => ({ a: 1, b: 2 }), switch: sw });
    const r1 = await h.reloads.reload({ target: 'o' }, { load: () => ({ b: 2, a: 1 }), switch: sw });
    assert.equal(r1.outcome, 'unchanged');
    const r2 = await h.reloads.reload({ target: 'o', force: true }, { load: () => ({ b: 2, a: 1 }), switch: sw });
    assert.equal(r2.outcome, 'success');
    assert.equal(r2.generation, 2);
  });
});

describe('coalescing', () => {
  test('100 concurrent requests: at most 2 executions, last request wins, pending visible', async () => {
    const h = setup();
    const t = makeTarget('v0');
    let executions = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const results = [];
    for (let i = 0; i < 100; i++) {
      const s = t.stages(`v${i + 1}`);
      results.push(
        h.reloads.reload({ target: 'app-config' }, {
          ...s,
          load: async () => {
            executions++;
            await gate;
            return `v${i + 1}`;
          },
        }),
      );
    }
    await new Promise((r) => setImmediate(r));
    assert.equal(await h.value('hotreload.pending', T), 99);
    assert.equal(await h.value('hotreload.in_progress', T), 1);
    release();
    const all = await Promise.all(results);
    assert.ok(executions <= 2, `executions=${executions}`);
    assert.equal(executions, 2);
    assert.equal(t.box.active, 'v100');
    assert.equal(all[0]?.coalesced, 0);
    assert.equal(all[99]?.coalesced, 99);
    assert.ok(all.slice(1).every((r) => r === all[99]), 'coalesced callers share the follow-up result');
    assert.equal(await h.value('hotreload.pending', T), 0);
    assert.equal(await h.value('hotreload.in_progress', T), 0);
    assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' }), 2);
  });

  test('synchronous stages still coalesce: a run never completes inside the reload() call that started it', async () => {
    const h = setup();
    let executions = 0;
    let active = 'v0';
    const results = [];
    for (let i = 0; i < 100; i++) {
      results.push(
        h.reloads.reload({ target: 'app-config' }, {
          load: () => {
            executions++;
            return `v${i + 1}`;
          },
          switch: (c: string) => {
            const previous = active;
            active = c;
            return previous;
          },
        }),
      );
    }
    assert.equal(executions, 1, 'only the first run started within the loop');
    const all = await Promise.all(results);
    assert.equal(executions, 2);
    assert.equal(active, 'v100');
    assert.equal(all[99]?.coalesced, 99);
  });

  test('a request with coalesce: false runs its own stages, in arrival order, and gets its own result; the others still coalesce around it', async () => {
    const h = setup();
    const t = makeTarget('v0');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const loaded: string[] = [];
    const stagesFor = (v: string, wait = false) => ({
      ...t.stages(v),
      load: async () => {
        loaded.push(v);
        if (wait) await gate;
        return v;
      },
    });
    const first = h.reloads.reload({ target: 'app-config' }, stagesFor('v1', true));
    // exact, coalescing, coalescing, exact, coalescing
    const queued = [
      h.reloads.reload({ target: 'app-config', coalesce: false }, stagesFor('v2')),
      h.reloads.reload({ target: 'app-config' }, stagesFor('v3')),
      h.reloads.reload({ target: 'app-config' }, stagesFor('v4')),
      h.reloads.reload({ target: 'app-config', coalesce: false }, stagesFor('v5')),
      h.reloads.reload({ target: 'app-config' }, stagesFor('v6')),
    ];
    await new Promise((r) => setImmediate(r));
    assert.equal(await h.value('hotreload.pending', T), 5, 'every waiting request is pending, exact ones included');
    release();
    const [r1, r2, r3, r4, r5, r6] = await Promise.all([first, ...queued]);
    // v3 joined nothing before v2 (that would overtake an exact request) and v6 could not join v3/v4 across v5.
    assert.deepEqual(loaded, ['v1', 'v2', 'v4', 'v5', 'v6']);
    for (const [r, v] of [[r1, 'v1'], [r2, 'v2'], [r5, 'v5'], [r6, 'v6']] as const) {
      assert.equal(r?.outcome, 'success', v);
      assert.equal(r?.hash, sha256Hex(v), `the caller of ${v} gets the result of ${v}`);
    }
    assert.equal(r2?.coalesced, 0);
    assert.equal(r5?.coalesced, 0);
    assert.equal(r3, r4, 'the two coalescing requests share one run');
    assert.equal(r4?.hash, sha256Hex('v4'));
    assert.equal(r4?.coalesced, 2);
    assert.equal(t.box.active, 'v6');
    assert.deepEqual(t.box.unloaded, ['v0', 'v1', 'v2', 'v4', 'v5']);
    assert.equal(await h.value('hotreload.pending', T), 0);
    assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' }), 5);
  });

  test('a forced request coalesced with an unforced one still gets a forced run, not `unchanged`', async () => {
    const h = setup();
    const t = makeTarget('v0');
    assert.equal((await h.reloads.reload({ target: 'app-config' }, t.stages('v1'))).outcome, 'success');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const running = h.reloads.reload({ target: 'app-config' }, {
      ...t.stages('v1'),
      load: async () => {
        await gate;
        return 'v1';
      },
    });
    const forced = h.reloads.reload({ target: 'app-config', force: true }, t.stages('v1'));
    const plain = h.reloads.reload({ target: 'app-config' }, t.stages('v1'));
    release();
    assert.equal((await running).outcome, 'unchanged');
    const [f, p] = await Promise.all([forced, plain]);
    assert.equal(f, p, 'coalesced');
    assert.equal(f.outcome, 'success', 'the caller who asked for force got a forced run');
    assert.equal(f.generation, 2);
  });

  test('coalesce must be a boolean', () => {
    const h = setup();
    assert.throws(() => h.reloads.reload({ target: 'app-config', coalesce: 'no' as unknown as boolean }, makeTarget('v0').stages('v1')), /options\.coalesce/);
  });
});

describe('serialised runs', () => {
  test('a queued run starts only once the run before it has finished, its rollback included', async () => {
    const h = setup();
    const events: string[] = [];
    const first = h.reloads.reload(
      { target: 'serial' },
      {
        load: () => 'v1',
        switch: () => {
          throw new Error('refused');
        },
        rollback: async () => {
          events.push('rollback started');
          await new Promise((r) => setTimeout(r, 20));
          events.push('rollback ended');
        },
      },
    );
    const second = h.reloads.reload(
      { target: 'serial' },
      {
        load: () => {
          events.push('second load');
          return 'v2';
        },
        switch: () => undefined,
      },
    );
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.outcome, 'rollback');
    assert.equal(b.outcome, 'success');
    assert.deepEqual(events, ['rollback started', 'rollback ended', 'second load']);
  });
});

describe('programmer errors and disabled instrumentation', () => {
  test('bad arguments throw TypeError; failed reloads never throw', async () => {
    const h = setup();
    assert.throws(() => h.reloads.reload({ target: '' }, { load: () => 1, switch: () => 1 }), TypeError);
    // @ts-expect-error missing switch
    assert.throws(() => h.reloads.reload({ target: 'x' }, { load: () => 1 }), TypeError);
    assert.throws(() => h.reloads.reload({ target: 'x', timeoutMs: -1 }, { load: () => 1, switch: () => 1 }), TypeError);
    const r = await h.reloads.reload({ target: 'x' }, { load: () => { throw 'not even an Error'; }, switch: () => 1 });
    assert.equal(r.outcome, 'failure');
    assert.equal(r.error?.code, '_OTHER');
  });

  test('disable() keeps reloads working and exports nothing', async () => {
    const h = setup();
    h.reloads.disable();
    const t = makeTarget('v0');
    const r = await h.reloads.reload({ target: 'app-config' }, t.stages('v1'));
    assert.equal(r.outcome, 'success');
    assert.equal(t.box.active, 'v1');
    assert.equal((await h.spans()).length, 0);
    assert.equal(await h.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' }), 0);
    h.reloads.enable();
    await h.reloads.reload({ target: 'app-config' }, t.stages('v2'));
    assert.equal((await h.spans()).filter((s) => s.name === 'hotreload').length, 1);
  });

  test('setMeterProvider re-creates instruments and the zero series of known targets', async () => {
    const h = setup();
    await h.reloads.reload({ target: 'app-config', trigger: 'file' }, makeTarget('a').stages('b'));
    const h2 = setup();
    h.reloads.setMeterProvider(h2.meterProvider);
    assert.equal(await h2.value('hotreload.reloads', { ...T, 'hotreload.trigger': 'file', 'hotreload.outcome': 'failure' }), 0);
    assert.equal(await h2.value('hotreload.generation', T), 1);
  });
});

test('every STAGE name has a span name', () => {
  assert.deepEqual(STAGES, ['load', 'verify', 'switch', 'unload', 'rollback']);
});
