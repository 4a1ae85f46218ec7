// Prometheus metrics of the server (counters, gauges, histograms) rendered in the text exposition format 0.0.4.

/** A cumulative histogram with fixed upper bounds, as Prometheus expects (`le` buckets plus +Inf, sum, count). */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) this.counts[i]!++;
  }

  render(name: string, labels = ''): string[] {
    const sep = labels ? ',' : '';
    const lines = this.bounds.map((b, i) => `${name}_bucket{${labels}${sep}le="${b}"} ${this.counts[i]}`);
    lines.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`);
    const suffix = labels ? `{${labels}}` : '';
    lines.push(`${name}_sum${suffix} ${this.sum}`, `${name}_count${suffix} ${this.count}`);
    return lines;
  }
}

const LATENCY_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** What is measured per served POST route (/predict, /embed, /rerank). */
class RouteMetrics {
  readonly requestSeconds = new Histogram(LATENCY_BOUNDS);
  readonly batchSeconds = new Histogram(LATENCY_BOUNDS);
  readonly batchSize = new Histogram(BATCH_BOUNDS);
  textsTotal = 0;
  batchesFailed = 0;
}

export class ServerMetrics {
  /** Requests by route and status code, e.g. "/predict 200". */
  private readonly requests = new Map<string, number>();
  private readonly perRoute = new Map<string, RouteMetrics>();
  /** The routes counted under their own label; "client_error" is a request that never had a parsed path. */
  private readonly labels: Set<string>;
  private readonly started = Date.now();

  /** `routes`: the POST routes served (default /predict), each with its latency and batch histograms. */
  constructor(routes: readonly string[] = ['/predict']) {
    for (const route of routes) this.perRoute.set(route, new RouteMetrics());
    this.labels = new Set([...routes, '/health', '/metrics', 'client_error']);
  }

  /**
   * Counts a request. A route outside the server's own is counted as "other", so that clients probing paths
   * cannot grow the label set (one series per path) without bound.
   */
  countRequest(route: string, status: number): void {
    const key = `${this.label(route)} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  requestCount(route: string, status: number): number {
    return this.requests.get(`${this.label(route)} ${status}`) ?? 0;
  }

  /** Time from request start to response end of a request to a served POST route. */
  observeRequest(route: string, seconds: number): void {
    this.perRoute.get(route)?.requestSeconds.observe(seconds);
  }

  observeBatch(route: string, size: number, seconds: number, failed: boolean): void {
    const m = this.perRoute.get(route);
    if (!m) return;
    m.batchSize.observe(size);
    m.batchSeconds.observe(seconds);
    m.textsTotal += size;
    if (failed) m.batchesFailed++;
  }

  private label(route: string): string {
    return this.labels.has(route) ? route : 'other';
  }

  render(gauges: { queueDepth: number; inFlightBatches: number; openConnections: number }): string {
    const out: string[] = [];
    out.push('# HELP bert_requests_total HTTP requests answered, by route and status code.');
    out.push('# TYPE bert_requests_total counter');
    for (const [key, n] of [...this.requests].sort()) {
      const [route, code] = key.split(' ');
      out.push(`bert_requests_total{route="${route}",code="${code}"} ${n}`);
    }
    const each = (name: string, help: string, type: string, lines: (m: RouteMetrics, label: string) => string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [route, m] of this.perRoute) out.push(...lines(m, `route="${route}"`));
    };
    each(
      'bert_request_duration_seconds',
      'Time from request start to response end, by POST route.',
      'histogram',
      (m, l) => m.requestSeconds.render('bert_request_duration_seconds', l),
    );
    each('bert_batch_size', 'Texts per model call.', 'histogram', (m, l) => m.batchSize.render('bert_batch_size', l));
    each('bert_batch_duration_seconds', 'Time of one model call on a batch.', 'histogram', (m, l) =>
      m.batchSeconds.render('bert_batch_duration_seconds', l),
    );
    each('bert_texts_total', 'Texts handed to the model.', 'counter', (m, l) => [
      `bert_texts_total{${l}} ${m.textsTotal}`,
    ]);
    each('bert_batches_failed_total', 'Model calls that failed.', 'counter', (m, l) => [
      `bert_batches_failed_total{${l}} ${m.batchesFailed}`,
    ]);
    out.push('# HELP bert_queue_depth Texts waiting for a batch.');
    out.push('# TYPE bert_queue_depth gauge');
    out.push(`bert_queue_depth ${gauges.queueDepth}`);
    out.push('# HELP bert_inflight_batches Model calls in progress.');
    out.push('# TYPE bert_inflight_batches gauge');
    out.push(`bert_inflight_batches ${gauges.inFlightBatches}`);
    out.push('# HELP bert_open_connections Open TCP connections.');
    out.push('# TYPE bert_open_connections gauge');
    out.push(`bert_open_connections ${gauges.openConnections}`);
    out.push('# HELP bert_uptime_seconds Seconds since the server started.');
    out.push('# TYPE bert_uptime_seconds gauge');
    out.push(`bert_uptime_seconds ${(Date.now() - this.started) / 1000}`);
    return out.join('\n') + '\n';
  }
}
