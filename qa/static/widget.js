/*
 * News QA chat widget: a launcher button and a chat panel that streams cited, quoted
 * answers from the service. Any page embeds it with
 *
 *   <script src="https://HOST/widget.js" data-endpoint="https://HOST" defer></script>
 *
 * Optional data attributes: data-title, data-subtitle, data-suggestions ("q1|q2|q3"),
 * data-open (start with the panel open). Colours follow --nqa-accent set on the page.
 *
 * Plain JS, no build step. The UI lives in a shadow root, so the page's styles do not
 * leak in and ours do not leak out. Every string that comes from the API is inserted with
 * textContent or setAttribute, never as HTML: article text is untrusted.
 */
(() => {
  "use strict";

  const TAG = "news-qa-chat";
  const script = document.currentScript;
  if (customElements.get(TAG)) return; // embedded twice: the first copy wins

  const MAX_QUESTION = 1000; // the API's limit
  const SNIPPET = 220; // characters of a related passage shown before "…"
  const CONTEXT = 90; // characters shown on each side of the closest sentence

  const CSS = `
:host { all: initial; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  --accent: var(--nqa-accent, #2f54eb); --accent-2: var(--nqa-accent-2, #5b3fd6);
  --ink: #111827; --muted: #5f6b7a; --line: #e4e7ee; --surface: #f4f6fa; --bg: #ffffff;
  --mark: #fff1b8; --mark-strong: #ffd43b;
  font: 400 14px/1.5 ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); -webkit-font-smoothing: antialiased; }
*, *::before, *::after { box-sizing: border-box; }
button, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
:focus-visible { outline: 3px solid color-mix(in srgb, var(--accent) 45%, transparent); outline-offset: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
svg { width: 20px; height: 20px; flex: none; fill: none; stroke: currentColor; stroke-width: 2;
  stroke-linecap: round; stroke-linejoin: round; }

.launcher { display: flex; align-items: center; gap: 10px; height: 54px; padding: 0 22px 0 18px; border: 0;
  border-radius: 27px; color: #fff; font-weight: 600; font-size: 15px;
  background: linear-gradient(135deg, var(--accent), var(--accent-2));
  box-shadow: 0 10px 30px -8px color-mix(in srgb, var(--accent) 70%, transparent), 0 2px 6px rgba(15, 23, 42, .15);
  transition: transform .15s ease, box-shadow .15s ease; }
.launcher:hover { transform: translateY(-1px); }
.launcher svg { width: 22px; height: 22px; }
:host([data-state="open"]) .launcher { display: none; }

.panel { position: absolute; right: 0; bottom: 0; width: 400px; height: min(660px, calc(100vh - 40px));
  display: flex; flex-direction: column; overflow: hidden; background: var(--bg); border-radius: 20px;
  box-shadow: 0 28px 70px -16px rgba(15, 23, 42, .38), 0 0 0 1px rgba(15, 23, 42, .07);
  animation: rise .2s ease-out; }
.panel[hidden] { display: none; }
@keyframes rise { from { opacity: 0; transform: translateY(12px) scale(.98); } }

header { display: flex; align-items: center; gap: 12px; padding: 16px 14px 16px 18px; color: #fff;
  background: linear-gradient(135deg, var(--accent), var(--accent-2)); }
.logo { display: grid; place-items: center; width: 38px; height: 38px; border-radius: 12px;
  background: rgba(255, 255, 255, .18); }
.heading { flex: 1; min-width: 0; }
h2 { margin: 0; font-size: 16px; font-weight: 650; letter-spacing: -.01em; }
.subtitle { margin: 1px 0 0; overflow: hidden; font-size: 12.5px; white-space: nowrap; text-overflow: ellipsis; opacity: .85; }
.icon { display: grid; place-items: center; width: 34px; height: 34px; padding: 0; border: 0; border-radius: 10px;
  background: transparent; color: inherit; }
header .icon:hover { background: rgba(255, 255, 255, .16); }

.body { position: relative; flex: 1; min-height: 0; }
.log { position: relative; height: 100%; overflow-y: auto; padding: 18px 16px 8px; overscroll-behavior: contain; }
.welcome { padding: 6px 2px 12px; }
.welcome h3 { margin: 0 0 4px; font-size: 18px; font-weight: 650; letter-spacing: -.015em; }
.welcome p { margin: 0 0 14px; color: var(--muted); }
.chips { display: flex; flex-direction: column; align-items: flex-start; gap: 8px; }
.chip { text-align: left; padding: 8px 13px; border: 1px solid var(--line); border-radius: 14px;
  background: var(--bg); color: var(--ink); font-size: 13.5px; transition: border-color .15s, background .15s; }
.chip:hover { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 6%, #fff); }

.msg { display: flex; margin: 0 0 14px; }
.msg.user { justify-content: flex-end; }
.bubble { max-width: 90%; padding: 11px 14px; border-radius: 18px; overflow-wrap: anywhere; }
.user .bubble { color: #fff; background: var(--accent); border-bottom-right-radius: 6px; white-space: pre-wrap; }
.bot .bubble { max-width: 96%; background: var(--surface); border-bottom-left-radius: 6px; }
.bot.error .bubble { background: #fff1f0; color: #a8071a; }
.answer { margin: 0; }
.sentence { animation: fade .35s ease-out; }
@keyframes fade { from { opacity: 0; } }
.sentence mark { background: var(--mark-strong); color: inherit; border-radius: 3px; padding: 0 2px; }
.cite { display: inline-grid; place-items: center; min-width: 19px; height: 19px; margin: 0 3px 0 2px; padding: 0 5px;
  vertical-align: 2px; border: 0; border-radius: 6px; font-size: 11px; font-weight: 700; line-height: 1;
  color: var(--accent); background: color-mix(in srgb, var(--accent) 13%, #fff); }
.cite:disabled { cursor: default; opacity: .55; }
.cite:not(:disabled):hover { color: #fff; background: var(--accent); }
.noanswer { display: flex; gap: 8px; margin: 0; color: var(--ink); }
.noanswer svg { color: var(--muted); margin-top: 1px; }
.understood { margin: 8px 0 0; font-size: 12px; color: var(--muted); }
.meta { display: flex; gap: 8px; margin: 8px 0 0; font-size: 11.5px; color: var(--muted); }
.confidence { display: inline-flex; align-items: center; gap: 5px; }
.confidence::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: var(--level, #9aa3af); }
.typing { display: inline-flex; gap: 4px; padding: 4px 0; }
.typing span { width: 7px; height: 7px; border-radius: 50%; background: #a3acb9; animation: blink 1.2s infinite ease-in-out; }
.typing span:nth-child(2) { animation-delay: .15s; }
.typing span:nth-child(3) { animation-delay: .3s; }
@keyframes blink { 0%, 80%, 100% { opacity: .3; transform: translateY(0); } 40% { opacity: 1; transform: translateY(-2px); } }

.group { margin: 12px 0 0; }
.label { margin: 0 0 7px; font-size: 11px; font-weight: 700; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); }
.cards { display: grid; gap: 7px; margin: 0; padding: 0; list-style: none; }
.card { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; width: 100%; padding: 9px 11px; text-align: left;
  border: 1px solid var(--line); border-radius: 12px; background: var(--bg); transition: border-color .15s, box-shadow .15s; }
button.card:hover { border-color: color-mix(in srgb, var(--accent) 55%, #fff); box-shadow: 0 2px 10px -4px rgba(15, 23, 42, .18); }
.card .num { grid-row: span 2; display: grid; place-items: center; width: 22px; height: 22px; border-radius: 7px;
  font-size: 11.5px; font-weight: 700; color: var(--accent); background: color-mix(in srgb, var(--accent) 12%, #fff); }
.card .title { font-size: 13px; font-weight: 600; line-height: 1.35; }
.card .snippet { font-size: 12.5px; line-height: 1.45; color: var(--muted); display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; overflow: hidden; }
.related .card, .closest .card { grid-template-columns: 1fr; border-style: dashed; background: #fbfcfe; }
.closest .snippet { margin: 0; display: block; }
mark.closest-sentence { background: var(--mark); color: var(--ink); border-radius: 3px; padding: 1px 0; }

.source { position: absolute; inset: 0; overflow-y: auto; padding: 14px 18px 18px; background: var(--bg);
  animation: slide .18s ease-out; }
.source[hidden] { display: none; }
@keyframes slide { from { transform: translateX(24px); } }
.back { display: inline-flex; align-items: center; gap: 6px; margin: 0 0 12px -6px; padding: 6px 10px 6px 6px;
  border: 0; border-radius: 10px; background: transparent; color: var(--accent); font-weight: 600; font-size: 13px; }
.back:hover { background: var(--surface); }
.back svg { width: 18px; height: 18px; }
.kicker { margin: 0 0 4px; font-size: 11px; font-weight: 700; letter-spacing: .06em; text-transform: uppercase; color: var(--accent); }
.source h3 { margin: 0 0 12px; font-size: 17px; font-weight: 650; line-height: 1.35; letter-spacing: -.01em; }
.byline { margin: -8px 0 14px; font-size: 12.5px; color: var(--muted); }
.context { margin: 0; padding: 12px 14px; border-left: 3px solid var(--accent); border-radius: 0 12px 12px 0;
  background: var(--surface); color: #4b5563; font-size: 14px; line-height: 1.65; }
.context p { margin: 0; }
.context p + p { margin-top: 8px; }
.context .aside { color: #8a94a3; }
mark.quote { background: var(--mark); color: var(--ink); border-radius: 3px; padding: 1px 0;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; }
mark.answer { background: var(--mark-strong); color: var(--ink); font-weight: 650; border-radius: 3px; }
.note { margin: 10px 0 0; font-size: 12px; color: var(--muted); }
.open-article { display: inline-flex; align-items: center; gap: 6px; margin-top: 14px; font-weight: 600; font-size: 13px;
  color: var(--accent); text-decoration: none; }
.open-article:hover { text-decoration: underline; }
.open-article svg { width: 16px; height: 16px; }

.filters { margin: 0 14px 6px; font-size: 12.5px; color: var(--muted); }
.filters summary { cursor: pointer; width: max-content; }
.filters .range { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 6px; }
.filters input { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 8px; color: var(--ink);
  background: var(--bg); }
form { display: flex; align-items: flex-end; gap: 8px; margin: 0 12px; padding: 6px 6px 6px 14px;
  border: 1px solid var(--line); border-radius: 16px; background: var(--bg); transition: border-color .15s, box-shadow .15s; }
form:focus-within { border-color: var(--accent); box-shadow: 0 0 0 3px color-mix(in srgb, var(--accent) 16%, transparent); }
textarea { flex: 1; min-height: 24px; outline: none !important; max-height: 110px; margin: 7px 0; padding: 0; border: 0; outline: 0; resize: none;
  background: transparent; line-height: 1.45; }
textarea::placeholder { color: #98a1ae; }
.send { display: grid; place-items: center; width: 38px; height: 38px; border: 0; border-radius: 12px; color: #fff;
  background: var(--accent); transition: opacity .15s; }
.send:disabled { opacity: .4; cursor: default; }
.send svg { width: 18px; height: 18px; }
.foot { margin: 0; padding: 8px 16px 12px; text-align: center; font-size: 11.5px; color: #98a1ae; }

@media (max-width: 520px) {
  :host { right: 14px; bottom: 14px; }
  :host([data-state="open"]) { inset: 0; }
  .panel { position: fixed; inset: 0; width: 100%; height: 100%; border-radius: 0; }
  .bubble { max-width: 92%; }
}
@media (prefers-reduced-motion: reduce) { *, *::before, *::after { animation: none !important; transition: none !important; } }
`;

  // Icons are built as SVG nodes (no markup strings anywhere in this file).
  const ICONS = {
    chat: ["M21 11.5a8.4 8.4 0 0 1-9 8.4 9 9 0 0 1-3.9-.9L3 20l1.1-4.3A8 8 0 0 1 3 11.5 8.4 8.4 0 0 1 12 3a8.4 8.4 0 0 1 9 8.5z"],
    close: ["M18 6 6 18", "M6 6l12 12"],
    refresh: ["M3 12a9 9 0 0 1 15.5-6.3L21 8", "M21 3v5h-5", "M21 12a9 9 0 0 1-15.5 6.3L3 16", "M3 21v-5h5"],
    send: ["M5 12h14", "M13 6l6 6-6 6"],
    back: ["M19 12H5", "M11 18l-6-6 6-6"],
    info: ["M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z", "M12 16v-4", "M12 8h.01"],
    external: ["M14 4h6v6", "M20 4 10 14", "M19 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1h5"],
  };

  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    for (const d of ICONS[name]) {
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  /** el("button", {class: "x", "aria-label": "y"}, "text", child): attributes and text only. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value == null) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child != null) node.append(child); // strings become text nodes
    }
    return node;
  }

  /** Text with [start, end) wrapped in <mark class=...>, or plain when the offsets are off. */
  function marked(text, start, end, className) {
    const out = document.createDocumentFragment();
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= text.length)) {
      out.append(text);
      return out;
    }
    out.append(text.slice(0, start), el("mark", { class: className }, text.slice(start, end)), text.slice(end));
    return out;
  }

  /**
   * The API counts offsets in Unicode code points (characters as Python counts them); a
   * JavaScript string indexes UTF-16 units, two per emoji or rare CJK character. The UTF-16
   * index of the `codePoints`-th character of `text` (-1 past its end).
   */
  function utf16Index(text, codePoints) {
    let units = 0;
    let seen = 0;
    for (const character of text) {
      if (seen === codePoints) break;
      units += character.length;
      seen += 1;
    }
    return seen === codePoints ? units : -1;
  }

  /** The answer span of a citation, in UTF-16 units of its quote (null when there is none). */
  function answerInQuote(citation) {
    if (citation.answer_start == null || citation.answer_end == null) return null;
    const start = utf16Index(citation.quote, citation.answer_start - citation.start);
    const end = utf16Index(citation.quote, citation.answer_end - citation.start);
    return citation.quote.slice(start, end) === citation.answer_text ? [start, end] : null;
  }

  /** Server-Sent Events from a fetch response body: yields {event, data}. */
  async function* readEvents(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = buffer + value;
      // A chunk may end between "\r" and "\n": keep the "\r" for the next round.
      const carry = text.endsWith("\r") ? "\r" : "";
      text = (carry ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n");
      const blocks = text.split("\n\n");
      buffer = blocks.pop() + carry;
      for (const block of blocks) {
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = val;
          else if (field === "data") data.push(val);
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      const extra = Array.isArray(body.extra) && body.extra[0] && body.extra[0].message;
      if (body.detail) return extra ? `${body.detail}: ${extra}` : String(body.detail);
    } catch (_) {
      /* not JSON: fall through to the status line */
    }
    return `The service answered ${response.status} ${response.statusText}`.trim();
  }

  class NewsQaChat extends HTMLElement {
    constructor() {
      super();
      this.conversationId = null;
      this.controller = null; // aborts the request in flight
      this.sourceOpener = null; // gets the focus back when the source view closes
      this.attachShadow({ mode: "open" });
    }

    get endpoint() {
      const configured = this.getAttribute("endpoint");
      const base = configured || (script && script.src ? new URL(script.src).origin : location.origin);
      return base.replace(/\/+$/, "");
    }

    connectedCallback() {
      if (this.shadowRoot.childElementCount) return;
      this.render();
      if (this.hasAttribute("open")) this.open(false);
    }

    render() {
      const title = this.getAttribute("heading") || "Ask the news";
      const subtitle = this.getAttribute("subtitle") || "Quoted answers from the articles";
      const root = this.shadowRoot;
      root.append(el("style", {}, CSS));

      this.launcher = el("button", { class: "launcher", type: "button", "aria-haspopup": "dialog",
        "aria-expanded": "false", "aria-controls": "nqa-panel", "aria-label": `Open chat: ${title}` },
        icon("chat"), el("span", {}, title));
      this.launcher.addEventListener("click", () => this.open());

      const newChat = el("button", { class: "icon", type: "button", "aria-label": "Start a new conversation",
        title: "New conversation" }, icon("refresh"));
      newChat.addEventListener("click", () => this.reset());
      const close = el("button", { class: "icon", type: "button", "aria-label": "Close chat", title: "Close" },
        icon("close"));
      close.addEventListener("click", () => this.close());

      this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
      this.source = el("section", { class: "source", "aria-label": "Source of the answer", hidden: true });
      this.input = el("textarea", { id: "nqa-question", rows: "1", maxlength: String(MAX_QUESTION),
        placeholder: "Ask about the articles…", autocomplete: "off" });
      this.send = el("button", { class: "send", type: "submit", "aria-label": "Send question", disabled: true },
        icon("send"));
      this.form = el("form", {}, el("label", { class: "sr-only", for: "nqa-question" }, "Your question"),
        this.input, this.send);
      // Researchers' filter: answers from articles published in a date range (sent as `filters`).
      this.publishedFrom = el("input", { type: "date", id: "nqa-from" });
      this.publishedTo = el("input", { type: "date", id: "nqa-to" });
      this.filters = el("details", { class: "filters" }, el("summary", {}, "Filter by publication date"),
        el("div", { class: "range" }, el("label", { for: "nqa-from" }, "Published from"), this.publishedFrom,
          el("label", { for: "nqa-to" }, "to"), this.publishedTo));

      this.panel = el("section", { class: "panel", id: "nqa-panel", role: "dialog", "aria-label": title, hidden: true },
        el("header", {}, el("div", { class: "logo" }, icon("chat")),
          el("div", { class: "heading" }, el("h2", {}, title), el("p", { class: "subtitle" }, subtitle)),
          newChat, close),
        el("div", { class: "body" }, this.log, this.source),
        this.filters,
        this.form,
        el("p", { class: "foot" }, "Every answer is an exact quote from a cited article."));
      root.append(this.launcher, this.panel);
      this.welcome();

      this.input.addEventListener("input", () => this.sync());
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.form.requestSubmit();
        }
      });
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.ask(this.input.value);
      });
      this.panel.addEventListener("keydown", (event) => {
        if (event.key !== "Escape") return;
        event.stopPropagation();
        if (!this.source.hidden) this.closeSource();
        else this.close();
      });
    }

    welcome() {
      const suggestions = (this.getAttribute("suggestions") || "").split("|").map((s) => s.trim()).filter(Boolean);
      const chips = el("div", { class: "chips" });
      for (const question of suggestions) {
        const chip = el("button", { class: "chip", type: "button" }, question);
        chip.addEventListener("click", () => this.ask(question));
        chips.append(chip);
      }
      this.log.append(el("div", { class: "welcome" },
        el("h3", {}, "What would you like to know?"),
        el("p", {}, "Ask a question about the articles. Answers are quoted word for word, "
          + "and each quote links to its source."),
        suggestions.length ? chips : null));
    }

    sync() {
      this.send.disabled = Boolean(this.controller) || !this.input.value.trim();
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight, 110)}px`;
    }

    open(focus = true) {
      this.panel.hidden = false;
      this.dataset.state = "open";
      this.launcher.setAttribute("aria-expanded", "true");
      if (focus) this.input.focus();
    }

    close() {
      this.panel.hidden = true;
      delete this.dataset.state;
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }

    reset() {
      if (this.controller) this.controller.abort();
      this.conversationId = null;
      this.closeSource();
      this.log.replaceChildren();
      this.welcome();
      this.input.focus();
    }

    /** Scroll so the question sits at the top and its answer reads from the start; a short
     *  answer just scrolls to the end (the browser clamps scrollTop). */
    reveal(question) {
      this.log.scrollTop = question.offsetTop - 12;
    }

    /** The date filter as the API's `filters` (nothing when no date is set). */
    dateFilters() {
      const filters = {};
      if (this.publishedFrom.value) filters.published_from = this.publishedFrom.value;
      if (this.publishedTo.value) filters.published_to = this.publishedTo.value;
      return Object.keys(filters).length ? { filters } : {};
    }

    async ask(raw) {
      const question = raw.trim();
      if (!question || this.controller) return;
      this.input.value = "";
      const welcome = this.log.querySelector(".welcome");
      if (welcome) welcome.remove();
      this.closeSource();
      const asked = el("div", { class: "msg user" }, el("div", { class: "bubble" }, question));
      this.log.append(asked);
      const turn = new Turn(this, question);
      this.log.append(turn.node);
      this.reveal(asked);

      const controller = new AbortController();
      this.controller = controller;
      this.sync();
      try {
        const response = await fetch(`${this.endpoint}/ask/stream`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify({ question: question.slice(0, MAX_QUESTION),
            ...(this.conversationId ? { conversation_id: this.conversationId } : {}),
            ...this.dateFilters() }),
          signal: controller.signal,
        });
        if (!response.ok) throw new Error(await errorMessage(response));
        for await (const { event, data } of readEvents(response)) {
          turn.on(event, data);
          if (event === "done" && data.conversation_id) this.conversationId = data.conversation_id;
          this.reveal(asked);
        }
        if (!turn.finished) throw new Error("The answer was cut off. Please try again.");
      } catch (error) {
        if (error.name === "AbortError") return;
        // fetch rejects with a TypeError when the network or CORS stops the request.
        turn.fail(error instanceof TypeError ? "The answer service could not be reached. Please try again later."
          : error.message);
      } finally {
        if (this.controller === controller) this.controller = null;
        this.sync();
        this.reveal(asked);
      }
    }

    async showSource(citation, opener) {
      this.sourceOpener = opener;
      const back = el("button", { class: "back", type: "button", "aria-label": "Back to the conversation" },
        icon("back"), "Back");
      back.addEventListener("click", () => this.closeSource());
      const body = el("div", {}, el("div", { class: "typing", "aria-label": "Loading the source" },
        el("span"), el("span"), el("span")));
      this.source.replaceChildren(back, el("p", { class: "kicker" }, `Source ${citation.n}`),
        el("h3", {}, citation.title), body);
      this.source.hidden = false;
      this.source.scrollTop = 0;
      back.focus();

      let detail = null;
      try {
        const response = await fetch(`${this.endpoint}/citations/${encodeURIComponent(citation.id)}`);
        if (response.ok) detail = await response.json();
      } catch (_) {
        /* offline or no lookup endpoint: the quote alone is still worth showing */
      }
      if (this.source.hidden || !this.source.contains(body)) return; // closed or replaced meanwhile
      body.replaceChildren(...(detail ? this.context(citation, detail) : this.quoteOnly(citation)));
    }

    /** The paragraph around the quote, quote and short answer highlighted. */
    context(citation, detail) {
      const nodes = [];
      const meta = detail.metadata || {};
      const byline = [meta.author, meta.publisher, meta.date].filter(Boolean).join(" · ");
      if (byline) nodes.push(el("p", { class: "byline" }, byline));
      const paragraph = (detail.paragraph && detail.paragraph.text) || "";
      const qs = utf16Index(paragraph, detail.quote_start_in_paragraph);
      const qe = utf16Index(paragraph, detail.quote_end_in_paragraph);
      const box = el("blockquote", { class: "context" });
      if (paragraph.slice(qs, qe) !== citation.quote) return this.quoteOnly(citation);
      const alone = paragraph.trim() === citation.quote.trim();
      if (alone && detail.previous_sentence) box.append(el("p", { class: "aside" }, detail.previous_sentence));
      const answer = answerInQuote(citation);
      const quote = el("mark", { class: "quote" });
      quote.append(answer ? marked(citation.quote, answer[0], answer[1], "answer") : citation.quote);
      box.append(el("p", {}, paragraph.slice(0, qs), quote, paragraph.slice(qe)));
      if (alone && detail.next_sentence) box.append(el("p", { class: "aside" }, detail.next_sentence));
      nodes.push(box);
      const href = this.safeUrl(detail.document_url);
      if (href) {
        nodes.push(el("a", { class: "open-article", href, target: "_blank", rel: "noopener noreferrer" },
          "Open the full article", icon("external")));
      }
      return nodes;
    }

    quoteOnly(citation) {
      const answer = answerInQuote(citation);
      const quote = el("mark", { class: "quote" });
      quote.append(answer ? marked(citation.quote, answer[0], answer[1], "answer") : citation.quote);
      return [el("blockquote", { class: "context" }, el("p", {}, quote)),
        el("p", { class: "note" }, "The surrounding text of this quote is not available right now.")];
    }

    /** An http(s) URL on the service for a path the API gave us; anything else is dropped. */
    safeUrl(path) {
      if (!path) return null;
      try {
        const url = new URL(path, `${this.endpoint}/`);
        return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
      } catch (_) {
        return null;
      }
    }

    closeSource() {
      if (this.source.hidden) return;
      this.source.hidden = true;
      this.source.replaceChildren();
      if (this.sourceOpener && this.sourceOpener.isConnected) this.sourceOpener.focus();
    }
  }

  /** One answer in the log, filled in as the events arrive. */
  class Turn {
    constructor(chat, question) {
      this.chat = chat;
      this.question = question;
      this.citations = new Map(); // n -> citation
      this.related = [];
      this.finished = false;
      this.text = el("p", { class: "answer" });
      this.typing = el("div", { class: "typing", role: "status", "aria-label": "Looking for an answer" },
        el("span"), el("span"), el("span"));
      this.bubble = el("div", { class: "bubble" }, this.text, this.typing);
      this.node = el("div", { class: "msg bot", "aria-busy": "true" }, this.bubble);
    }

    on(event, data) {
      if (event === "sentence") this.sentence(data);
      else if (event === "citation") this.citation(data);
      else if (event === "related") this.related.push(data);
      else if (event === "done") this.done(data);
    }

    sentence(data) {
      const marker = el("button", { class: "cite", type: "button", disabled: true, "data-n": data.citation,
        "aria-label": `Show source ${data.citation}` }, String(data.citation));
      marker.addEventListener("click", () => this.open(data.citation, marker));
      if (this.text.childElementCount) this.text.append(" ");
      this.text.append(el("span", { class: "sentence", "data-citation": data.citation }, data.text), marker);
    }

    citation(citation) {
      this.citations.set(citation.n, citation);
      for (const marker of this.text.querySelectorAll(`.cite[data-n="${citation.n}"]`)) {
        marker.disabled = false;
        marker.setAttribute("aria-label", `Show source ${citation.n}: ${citation.title}`);
      }
      const answer = answerInQuote(citation);
      if (answer) {
        for (const span of this.text.querySelectorAll(`.sentence[data-citation="${citation.n}"]`)) {
          if (span.textContent !== citation.quote) continue;
          span.replaceChildren(marked(citation.quote, answer[0], answer[1], "answer"));
        }
      }
      if (!this.sources) {
        this.sources = el("ol", { class: "cards", "aria-label": "Sources" });
        this.bubble.insertBefore(el("div", { class: "group" }, el("p", { class: "label" }, "Sources"), this.sources),
          this.typing);
      }
      const label = `Source ${citation.n}: ${citation.title}`;
      const card = el("button", { class: "card", type: "button", "aria-label": label },
        el("span", { class: "num" }, String(citation.n)), el("span", { class: "title" }, citation.title),
        el("span", { class: "snippet" }, citation.quote));
      card.addEventListener("click", () => this.open(citation.n, card));
      this.sources.append(el("li", {}, card));
    }

    open(n, opener) {
      const citation = this.citations.get(n);
      if (citation) this.chat.showSource(citation, opener);
    }

    done(data) {
      this.finished = true;
      this.typing.remove();
      this.node.removeAttribute("aria-busy");
      if (!data.answered) this.noAnswer();
      if (data.resolved_question && data.resolved_question !== this.question) {
        this.bubble.append(el("p", { class: "understood" }, `Understood as: ${data.resolved_question}`));
      }
      const percent = Math.round((data.confidence || 0) * 100);
      const level = data.answered ? (percent >= 75 ? "#22a06b" : "#e2a03f") : "#9aa3af";
      const confidence = el("span", { class: "confidence", style: `--level: ${level}` },
        data.answered ? `Confidence ${percent}%` : "No answer");
      this.bubble.append(el("p", { class: "meta" }, confidence,
        el("span", {}, `${((data.took_ms || 0) / 1000).toFixed(2)} s`)));
    }

    noAnswer() {
      this.text.replaceChildren();
      this.text.className = "noanswer";
      this.text.append(icon("info"), el("span", {}, "No answer found in the articles for this question."));
      if (!this.related.length) return;
      // The passage holding the best sentence first, that sentence marked: the closest the
      // articles come, which may not answer the question.
      let closest = this.related.find((p) => p.closest_start != null);
      const start = closest ? utf16Index(closest.text, closest.closest_start) : -1;
      const end = closest ? utf16Index(closest.text, closest.closest_end) : -1;
      if (start < 0 || end < start) closest = undefined;  // offsets that do not fit: no mark
      if (closest) {
        const before = closest.text.slice(0, start);
        const after = closest.text.slice(end);
        const snippet = el("p", { class: "snippet closest-text" },
          before.length > CONTEXT ? `…${before.slice(-CONTEXT).trimStart()}` : before,
          el("mark", { class: "closest-sentence" }, closest.text.slice(start, end)),
          after.length > CONTEXT ? `${after.slice(0, CONTEXT).trimEnd()}…` : after);
        this.bubble.append(el("div", { class: "group closest" },
          el("p", { class: "label" }, "Closest passage · it may not answer the question"),
          el("div", { class: "card" }, el("span", { class: "title" }, closest.title), snippet)));
      }
      const others = this.related.filter((p) => p !== closest);
      if (!others.length) return;
      const cards = el("ul", { class: "cards" });
      for (const passage of others) {
        const snippet = passage.text.length > SNIPPET ? `${passage.text.slice(0, SNIPPET).trimEnd()}…` : passage.text;
        cards.append(el("li", {}, el("div", { class: "card" }, el("span", { class: "title" }, passage.title),
          el("span", { class: "snippet" }, snippet))));
      }
      this.bubble.append(el("div", { class: "group related" },
        el("p", { class: "label" }, "Other related passages · not an answer"), cards));
    }

    fail(message) {
      this.finished = true;
      this.typing.remove();
      this.node.removeAttribute("aria-busy");
      this.node.classList.add("error");
      this.text.replaceChildren(message);
    }
  }

  customElements.define(TAG, NewsQaChat);

  // Mount one widget for the embedding <script>, configured from its data attributes.
  if (script) {
    const mount = () => {
      if (document.querySelector(TAG)) return;
      const widget = document.createElement(TAG);
      const { endpoint, title, subtitle, suggestions } = script.dataset;
      if (endpoint) widget.setAttribute("endpoint", endpoint);
      if (title) widget.setAttribute("heading", title);
      if (subtitle) widget.setAttribute("subtitle", subtitle);
      if (suggestions) widget.setAttribute("suggestions", suggestions);
      if ("open" in script.dataset) widget.setAttribute("open", "");
      document.body.append(widget);
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
    else mount();
  }
})();
