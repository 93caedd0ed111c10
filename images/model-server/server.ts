// The OpenAI-compatible surface vLLM serves, as much of it as the tests read: GET /v1/models, POST /v1/completions
// and GET /health. Request handling is a pure function of the inventory (`handle`), so it is unit-tested without
// sockets; `startServer` only wires it to node:http.
import { createServer, type Server } from 'node:http';
import { completionText, type ModelInventory } from './model.js';

export interface ServedModel {
  modelId: string;
  inventory: ModelInventory;
  /** Seconds since the epoch, as OpenAI's `created`. */
  createdAt: number;
}

export interface Reply {
  status: number;
  body: unknown;
}

function error(status: number, message: string, type: string): Reply {
  return { status, body: { error: { message, type, code: status } } };
}

function modelCard(model: ServedModel): Record<string, unknown> {
  return {
    id: model.modelId,
    object: 'model',
    created: model.createdAt,
    owned_by: 'aim-test-model-server',
    root: model.inventory.dir,
    // Not OpenAI fields: what a test checks to know the server read the weights the cache holds.
    files: model.inventory.files,
    total_bytes: model.inventory.totalBytes,
    weights_digest: model.inventory.digest,
  };
}

interface CompletionRequest {
  model?: unknown;
  prompt?: unknown;
}

function completion(model: ServedModel, body: string): Reply {
  let req: CompletionRequest;
  try {
    req = JSON.parse(body) as CompletionRequest;
  } catch {
    return error(400, 'request body is not JSON', 'invalid_request_error');
  }
  if (req.model !== undefined && req.model !== model.modelId) {
    return error(404, `The model \`${String(req.model)}\` does not exist.`, 'NotFoundError');
  }
  const prompts = Array.isArray(req.prompt) ? req.prompt : [req.prompt];
  if (prompts.length === 0 || prompts.some((p) => typeof p !== 'string')) {
    return error(400, 'prompt must be a string or a list of strings', 'invalid_request_error');
  }
  const texts = (prompts as string[]).map((p) => completionText(model.modelId, model.inventory.digest, p));
  const promptTokens = (prompts as string[]).reduce((n, p) => n + p.split(/\s+/).filter(Boolean).length, 0);
  const completionTokens = texts.reduce((n, t) => n + t.split(/\s+/).length, 0);
  return {
    status: 200,
    body: {
      id: `cmpl-${model.inventory.digest.slice(0, 8)}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: model.modelId,
      choices: texts.map((text, index) => ({ index, text, logprobs: null, finish_reason: 'stop' })),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    },
  };
}

/** The reply to one request. */
export function handle(model: ServedModel, method: string, url: string, body: string): Reply {
  const path = url.split('?')[0];
  if (path === '/health') return method === 'GET' ? { status: 200, body: {} } : error(405, 'use GET', 'method');
  if (path === '/v1/models') {
    return method === 'GET'
      ? { status: 200, body: { object: 'list', data: [modelCard(model)] } }
      : error(405, 'use GET', 'method');
  }
  if (path === '/v1/completions') {
    return method === 'POST' ? completion(model, body) : error(405, 'use POST', 'method');
  }
  return error(404, `no route ${method} ${path}`, 'NotFoundError');
}

/** Listens on `host:port`; resolves once the socket is bound (a readiness probe may connect from then on). */
export async function startServer(model: ServedModel, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = handle(model, req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8'));
      const json = JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
      res.end(json);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
