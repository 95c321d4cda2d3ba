/**
 * A self-contained API reference rendered from the OpenAPI document, so /docs works on an
 * air-gapped install (no CDN scripts). Tools that want more can load /openapi.json.
 */
type Operation = {
  summary?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: unknown }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
};
type Document = {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: unknown;
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function renderDocsPage(doc: Document): string {
  const sections: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? [])
        .map(
          (p) =>
            `<li><code>${escapeHtml(p.name)}</code> (${p.in}${p.required ? ", required" : ""})${p.description ? ` ${escapeHtml(p.description)}` : ""}</li>`,
        )
        .join("");
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const responses = Object.entries(op.responses ?? {})
        .map(([status, r]) => `<li><b>${status}</b> ${escapeHtml(r.description ?? "")}</li>`)
        .join("");
      sections.push(`<section><h2><span class="m">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h2>
<p>${escapeHtml(op.summary ?? "")}</p>${params ? `<h3>Parameters</h3><ul>${params}</ul>` : ""}
${schema ? `<h3>Body</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>` : ""}<h3>Responses</h3><ul>${responses}</ul></section>`);
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}section{border-top:1px solid #ddd;padding:.5rem 0}
.m{display:inline-block;min-width:4.5rem;font-family:monospace;color:#fff;background:#335;border-radius:4px;padding:0 .4rem;text-align:center}
pre{background:#f6f6f6;padding:.6rem;overflow:auto;font-size:13px}</style></head><body>
<h1>${escapeHtml(doc.info.title)} API <small>v${escapeHtml(doc.info.version)}</small></h1><p>${escapeHtml(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Schemas: see <code>components</code> there.</p>
${sections.join("\n")}</body></html>`;
}
