// Server-sent events over fetch(). EventSource cannot send an Authorization header, and the
// operator routes take the admin token only there (never in the URL, where it would end up in
// logs and history), so the stream is read with fetch() and parsed here.
//
//   const stream = followEvents('/api/logs/stream?service=payment', {
//     token, onEvent: ({event, data}) => ..., onState: (state, detail) => ...,
//   });
//   stream.close();
//
// States: 'connecting', 'open', 'retrying' (the connection dropped: reconnects with a growing
// delay), 'refused' (401/403: stops), 'failed' (another 4xx: stops), 'closed'.

/** Splits a text/event-stream into events ({event, data, id}); feed() it chunks of text. */
export class EventParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.event = '';
    this.data = [];
    this.id = undefined;
  }

  feed(text) {
    this.buffer += text;
    let newline;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      // A lone '\r' at the end may be the first half of '\r\n': wait for the next chunk.
      if (width === 1 && this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(newline + width);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.data.length)
        this.onEvent({event: this.event || 'message', data: this.data.join('\n'), id: this.id});
      this.reset();
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

export function followEvents(
  url,
  {token, onEvent, onState = () => {}, minDelayMs = 1000, maxDelayMs = 15000},
) {
  const controller = new AbortController();
  let closed = false;
  let delay = minDelayMs;
  let lastId;

  async function connect() {
    while (!closed) {
      onState('connecting');
      let response;
      try {
        const headers = {Accept: 'text/event-stream', Authorization: `Bearer ${token}`};
        if (lastId !== undefined) headers['Last-Event-ID'] = lastId;
        response = await fetch(url, {headers, signal: controller.signal, cache: 'no-store'});
      } catch (error) {
        if (closed) return;
        await retry(error.message);
        continue;
      }
      if (response.status === 401 || response.status === 403) {
        onState('refused', await problemText(response));
        return;
      }
      if (!response.ok) {
        const text = await problemText(response);
        if (response.status >= 500) {
          await retry(text);
          continue;
        }
        onState('failed', text);
        return;
      }
      onState('open');
      delay = minDelayMs;
      const parser = new EventParser((event) => {
        if (event.id !== undefined) lastId = event.id;
        onEvent(event);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch {
        // The connection broke (or close() aborted it): reconnect unless closed.
      }
      if (closed) return;
      await retry('the stream ended');
    }
  }

  async function retry(detail) {
    onState('retrying', detail);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(maxDelayMs, delay * 2);
  }

  connect();
  return {
    close() {
      if (closed) return;
      closed = true;
      controller.abort();
      onState('closed');
    },
  };
}

async function problemText(response) {
  try {
    const problem = await response.json();
    return `HTTP ${response.status}: ${problem.detail || problem.title}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}
