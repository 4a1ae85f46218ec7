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

/** The routes counted under their own label; "client_error" is a request that never had a parsed path. */
const ROUTES = new Set(['/predict', '/health', '/metrics', 'client_error']);

function boundedRoute(route: string): string {
  return ROUTES.has(route) ? route : 'other';
}

const LATENCY_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class ServerMetrics {
  /** Requests by route and status code, e.g. "/predict 200". */
  private readonly requests = new Map<string, number>();
  readonly requestSeconds = new Histogram(LATENCY_BOUNDS);
  readonly batchSeconds = new Histogram(LATENCY_BOUNDS);
  readonly batchSize = new Histogram(BATCH_BOUNDS);
  textsTotal = 0;
  batchesTotal = 0;
  batchesFailed = 0;
  private readonly started = Date.now();

  /**
   * Counts a request. A route outside the server's own is counted as "other", so that clients probing paths
   * cannot grow the label set (one series per path) without bound.
   */
  countRequest(route: string, status: number): void {
    const key = `${boundedRoute(route)} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  requestCount(route: string, status: number): number {
    return this.requests.get(`${boundedRoute(route)} ${status}`) ?? 0;
  }

  observeBatch(size: number, seconds: number, failed: boolean): void {
    this.batchSize.observe(size);
    this.batchSeconds.observe(seconds);
    this.textsTotal += size;
    this.batchesTotal++;
    if (failed) this.batchesFailed++;
  }

  render(gauges: { queueDepth: number; inFlightBatches: number; openConnections: number }): string {
    const out: string[] = [];
    out.push('# HELP bert_requests_total HTTP requests answered, by route and status code.');
    out.push('# TYPE bert_requests_total counter');
    for (const [key, n] of [...this.requests].sort()) {
      const [route, code] = key.split(' ');
      out.push(`bert_requests_total{route="${route}",code="${code}"} ${n}`);
    }
    out.push('# HELP bert_request_duration_seconds Time from request start to response end for POST /predict.');
    out.push('# TYPE bert_request_duration_seconds histogram');
    out.push(...this.requestSeconds.render('bert_request_duration_seconds'));
    out.push('# HELP bert_batch_size Texts per model call.');
    out.push('# TYPE bert_batch_size histogram');
    out.push(...this.batchSize.render('bert_batch_size'));
    out.push('# HELP bert_batch_duration_seconds Time of one model call on a batch.');
    out.push('# TYPE bert_batch_duration_seconds histogram');
    out.push(...this.batchSeconds.render('bert_batch_duration_seconds'));
    out.push('# HELP bert_texts_total Texts handed to the model.');
    out.push('# TYPE bert_texts_total counter');
    out.push(`bert_texts_total ${this.textsTotal}`);
    out.push('# HELP bert_batches_failed_total Model calls that failed.');
    out.push('# TYPE bert_batches_failed_total counter');
    out.push(`bert_batches_failed_total ${this.batchesFailed}`);
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
