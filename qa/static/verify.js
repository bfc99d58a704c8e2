/* The /verify page: posts the pasted text to POST /citations/verify and shows each quotation
   highlighted by status, with its changes and its source paragraph. Everything from the text
   or the archive is inserted as text nodes, never as HTML. API offsets are Unicode code points;
   JavaScript strings index UTF-16 units, so offsets are converted before slicing. */
(function () {
  "use strict";
  const LABELS = { exact: "Exact", close: "Close", misquoted: "Misquoted", not_found: "Not found" };
  const form = document.getElementById("form");
  const textBox = document.getElementById("text");
  const mode = document.getElementById("mode");
  const button = document.getElementById("check");
  const status = document.getElementById("status");
  const report = document.getElementById("report");

  /** Code-point offsets of `text` as UTF-16 indices (one pass for many offsets). */
  function utf16Indices(text, offsets) {
    const wanted = new Set(offsets);
    const out = new Map();
    let units = 0;
    let seen = 0;
    for (const character of text) {
      if (wanted.has(seen)) out.set(seen, units);
      units += character.length;
      seen += 1;
    }
    if (wanted.has(seen)) out.set(seen, units);
    return out;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function select(n) {
    document.querySelectorAll("#results li").forEach((li) => li.classList.toggle("selected", li.dataset.n === String(n)));
    const item = document.getElementById(`result-${n}`);
    if (item) { item.scrollIntoView({ block: "nearest" }); item.focus(); }
  }

  /** The submitted text with every part of every quotation wrapped in a <mark>. */
  function renderMarked(text, quotes) {
    const parts = quotes.flatMap((q, i) => q.parts.map((p) => ({ ...p, n: i + 1, status: q.status })));
    const units = utf16Indices(text, parts.flatMap((p) => [p.start, p.end]));
    const marked = document.getElementById("marked");
    marked.replaceChildren();
    let cursor = 0;
    for (const part of parts.sort((a, b) => a.start - b.start)) {
      const start = units.get(part.start);
      const end = units.get(part.end);
      if (start === undefined || end === undefined || start < cursor) continue;
      marked.append(text.slice(cursor, start));
      const mark = element("mark", part.status, text.slice(start, end));
      mark.tabIndex = 0;
      mark.setAttribute("role", "button");
      mark.setAttribute("aria-label", `${LABELS[part.status]} quotation ${part.n}: show its source`);
      mark.addEventListener("click", () => select(part.n));
      mark.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(part.n); }
      });
      marked.append(mark);
      cursor = end;
    }
    marked.append(text.slice(cursor));
  }

  function renderSource(source) {
    const paragraph = source.paragraph.text;
    const at = utf16Indices(paragraph, [source.quote_start_in_paragraph, source.quote_end_in_paragraph]);
    const start = at.get(source.quote_start_in_paragraph);
    const end = at.get(source.quote_end_in_paragraph);
    const box = element("blockquote", "source");
    if (start === undefined || end === undefined) {
      box.textContent = source.quote;
    } else {
      box.append(paragraph.slice(0, start), element("mark", "", paragraph.slice(start, end)), paragraph.slice(end));
    }
    return box;
  }

  /** Reversals first, then the other misquotes, then the changes editorial convention allows. */
  function gravity(change) {
    return change.allowed ? 2 : change.kind === "reversal" ? 0 : 1;
  }

  /** A change in words (the same as `qa verify` prints). */
  function describe(change) {
    const draft = `“${change.draft}”`;
    const source = `“${change.source}”`;
    if ((change.kind === "ellipsis" || change.kind === "cut") && change.draft) {
      return change.source ? `${draft} leaves out ${source}` : `${draft} marks where the quote is cut`;
    }
    if (change.kind === "cut") return `the quote is cut before or after ${source}`;
    if (change.kind === "brackets") {
      return change.source ? `${draft} stands for ${source}` : `${draft} is the writer's insertion`;
    }
    return !change.source ? `the text adds ${draft}`
      : !change.draft ? `the text leaves out ${source}`
        : `the source says ${source}, the text ${draft}`;
  }

  function renderResult(quote, n) {
    const item = element("li");
    item.id = `result-${n}`;
    item.dataset.n = String(n);
    item.tabIndex = -1;
    item.append(element("span", `badge ${quote.status}`, LABELS[quote.status]));
    item.append(element("p", "quote", `“${quote.quote}”`));
    const changes = [...quote.changes].sort((a, b) => gravity(a) - gravity(b));
    for (const change of changes.filter((c) => c.kind === "reversal")) {
      item.append(element("p", "reversal", `Reversal: ${describe(change)}`));
    }
    const others = changes.filter((c) => c.kind !== "reversal");
    if (others.length) {
      const list = element("ul", "changes");
      for (const change of others) {
        const line = element("li", change.allowed ? "allowed" : "misquote");
        if (change.allowed) line.append(element("span", "allowed-tag", "allowed"), " ");
        line.append(`${change.kind}: ${describe(change)}`);
        list.append(line);
      }
      item.append(list);
    }
    if (quote.source) {
      const s = quote.source;
      const meta = element("p", "meta");
      const link = element("a", "", s.title || s.doc_id);
      link.href = `${s.document_url}${s.document_url.includes("?") ? "&" : "?"}format=html`;
      meta.append(link, ` · chars ${s.start}–${s.end} · similarity ${quote.similarity.toFixed(2)}`
        + (s.metadata.date ? ` · ${s.metadata.date}` : "") + ` · citation ${s.id}`);
      item.append(meta, renderSource(s));
    } else {
      item.append(element("p", "meta", "No article of the archive holds this quotation or one close to it."));
    }
    return item;
  }

  function render(text, response) {
    const summary = document.getElementById("summary");
    summary.replaceChildren(...Object.entries(response.counts).map(([key, count]) =>
      element("li", `badge ${key}`, `${count} ${LABELS[key].toLowerCase()}`)));
    renderMarked(text, response.quotes);
    document.getElementById("results").replaceChildren(...response.quotes.map((q, i) => renderResult(q, i + 1)));
    report.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = textBox.value;
    if (!text.trim()) { status.textContent = "Paste a text first."; return; }
    button.disabled = true;
    status.className = "";
    status.textContent = "Checking…";
    try {
      const response = await fetch("/citations/verify", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text, mode: mode.value }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error((body.extra && body.extra[0] && body.extra[0].message) || body.detail);
      render(text, body);
      status.textContent = body.quotes.length
        ? `${body.quotes.length} checked in ${Math.round(body.took_ms)} ms.`
        : `No ${body.mode === "quotes" ? "quotations (of three words or more)" : "sentences"} to check.`;
    } catch (error) {
      status.className = "error";
      status.textContent = `Could not check the text: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
})();
