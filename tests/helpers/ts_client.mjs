// Plays a scripted session (tests/helpers/sessions.py) through the TypeScript SDK's own client.
// Usage: node ts_client.mjs SESSION.json stdio CMD [ARG...]   or   node ts_client.mjs SESSION.json http URL
// An argument {"$ref": [k, "field"]} is the field of call k's structured result.  Prints one line of JSON:
// each call's isError, in order.
// NODE_MODULES names the folder the SDK is installed in (.ci/node/node_modules): ES modules ignore NODE_PATH.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdk = (file) => import(pathToFileURL(join(process.env.NODE_MODULES, "@modelcontextprotocol/sdk/dist/esm/client", file)).href);
const { Client } = await sdk("index.js");
const { StdioClientTransport } = await sdk("stdio.js");
const { StreamableHTTPClientTransport } = await sdk("streamableHttp.js");

const [sessionFile, kind, ...target] = process.argv.slice(2);
const session = JSON.parse(readFileSync(sessionFile, "utf8"));
const transport =
  kind === "stdio"
    ? new StdioClientTransport({ command: target[0], args: target.slice(1), env: process.env })
    : new StreamableHTTPClientTransport(new URL(target[0]));
const client = new Client({ name: "funreason-ts-test", version: "1.0.0" });
await client.connect(transport);
const results = [];
const errors = [];
for (const { tool, arguments: args } of session) {
  const resolved = Object.fromEntries(
    Object.entries(args).map(([name, value]) =>
      value && typeof value === "object" && "$ref" in value ? [name, results[value.$ref[0]][value.$ref[1]]] : [name, value],
    ),
  );
  const result = await client.callTool({ name: tool, arguments: resolved });
  results.push(result.structuredContent ?? {});
  errors.push(Boolean(result.isError));
}
await client.close();
console.log(JSON.stringify(errors));
