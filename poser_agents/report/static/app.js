// ImagePoser report viewer. Data: window.POSER_REPORT (data.js) and window.POSER_EPISODES
// (episodes-<k>.js, loaded below). Every string from the run is set with textContent, never as HTML.
"use strict";
(function () {
  const R = window.POSER_REPORT;
  const $ = (id) => document.getElementById(id);
  const SCALE = 2;        // thumbnails drawn at twice their size, pixel for pixel
  const MAX_ROWS = 300;   // episode list rows drawn at once

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x)) ? "-" : Number(x).toFixed(d);
  function ci(m, d) {
    if (!m || m.mean === null || m.mean === undefined) return el("span", {text: "-"});
    return el("span", {}, fmt(m.mean, d), " ", el("span", {class: "ci", text: `[${fmt(m.ci_low, d)}, ${fmt(m.ci_high, d)}]`}));
  }
  function row(cells, head) {
    return el("tr", {}, ...cells.map((c) => el(head ? "th" : "td", {}, c)));
  }

  // ---------------------------------------------------------------- results
  function renderResults() {
    $("title").textContent = R.title;
    const c = R.config || {};
    $("config").textContent = `${c.env_id}, split ${c.split}, ${c.episodes} tasks x seeds ${(c.seeds || []).join(", ")}; ` +
      `${c.n_resamples} bootstrap resamples.`;
    for (const w of R.warnings || []) $("warnings").append(el("p", {class: "warning", text: w}));
    for (const n of R.notes || []) $("warnings").append(el("p", {class: "help", text: "note: " + n}));
    const cols = [["alignment", 3], ["accuracy", 3], ["fidelity", 3], ["cost", 2], ["steps", 2], ["return", 3], ["critic_agreement", 3]];
    const t = $("results-table");
    t.append(row(["agent", ...cols.map(([k]) => k.replace("_", " ")), "episodes"], true));
    for (const a of R.agents) {
      const o = R.results[a].overall;
      t.append(row([a, ...cols.map(([k, d]) => ci(o[k], d)), String(o.episodes)]));
    }
    const ct = $("category-table");
    ct.append(row(["agent", ...R.categories], true));
    for (const a of R.agents) {
      const per = R.results[a].per_category;
      ct.append(row([a, ...R.categories.map((k) => ci((per[k] || {}).accuracy, 2))]));
    }
    const pt = $("paired-table");
    pt.append(row(["a - b", "metric", "difference [95% CI]", "wins/losses/ties", "verdict"], true));
    for (const p of R.paired || []) {
      pt.append(row([`${p.a} - ${p.b}`, p.metric, ci(p, 3), `${p.wins}/${p.losses}/${p.ties}`, p.verdict]));
    }
    for (const f of R.figures || []) $("figure-list").append(el("img", {src: f.file, alt: f.key, title: f.key}));
    if (!(R.figures || []).length) $("figure-list").append(el("p", {class: "help", text: "No plots in this run."}));
  }

  // ---------------------------------------------------------------- episodes
  let all = [];             // [{agent, ep}]
  let byKey = new Map();    // task_id|episode_seed -> {agent: ep}
  const state = {a: null, b: null};

  function outcome(ep) {
    const j = ep.evaluator || {};
    if (!j.judged) return "unjudged";
    return j.accuracy >= 1 ? "passed" : "failed";
  }
  function unreadCount(ep) {
    const nu = ep.not_understood;
    return nu && Array.isArray(nu.spans) ? nu.spans.length : (nu && nu.spans ? 1 : 0);
  }
  function outcomeText(ep) {
    const o = outcome(ep);
    if (o === "unjudged") return "not judged";
    if (o === "failed") return "some check failed";
    const n = unreadCount(ep);
    return n ? `all checks passed; ${n} span${n > 1 ? "s" : ""} not understood` : "all checks passed";
  }

  function loadEpisodes(done) {
    const files = R.episode_files || [];
    if (!files.length) { done(); return; }
    let left = files.length;
    for (const f of files) {
      const s = document.createElement("script");
      s.src = f;
      s.onload = () => { if (--left === 0) done(); };
      s.onerror = () => { console.warn("could not load " + f); if (--left === 0) done(); };
      document.body.append(s);
    }
  }

  function setupEpisodes() {
    const E = window.POSER_EPISODES || {};
    for (const a of R.agents) for (const ep of E[a] || []) {
      all.push({agent: a, ep});
      const key = ep.task_id + "|" + ep.episode_seed;
      if (!byKey.has(key)) byKey.set(key, {});
      byKey.get(key)[a] = ep;
    }
    if (!all.length) { $("no-episodes").hidden = false; return; }
    $("episode-browser").hidden = false;
    const agents = R.agents.filter((a) => (E[a] || []).length);
    const cats = [...new Set(all.map((x) => x.ep.category))].sort();
    const fa = $("filter-agent"), fc = $("filter-category");
    fa.append(el("option", {value: "", text: "all"}), ...agents.map((a) => el("option", {value: a, text: a})));
    fc.append(el("option", {value: "", text: "all"}), ...cats.map((c) => el("option", {value: c, text: c})));
    for (const s of [fa, fc, $("filter-outcome")]) s.addEventListener("change", renderList);
    $("compare-agent").addEventListener("change", () => showB($("compare-agent").value));
    $("step-both-prev").addEventListener("click", () => { stepPane("a", -1); stepPane("b", -1); });
    $("step-both-next").addEventListener("click", () => { stepPane("a", 1); stepPane("b", 1); });
    renderList();
    const first = filtered()[0];
    if (first) select(first);
  }

  function filtered() {
    const a = $("filter-agent").value, c = $("filter-category").value, o = $("filter-outcome").value;
    return all.filter((x) => (!a || x.agent === a) && (!c || x.ep.category === c) && (!o || outcome(x.ep) === o));
  }

  function renderList() {
    const rows = filtered();
    const t = $("episode-table");
    t.replaceChildren(row(["agent", "task", "category", "seed", "alignment", "accuracy", "cost", "steps"], true));
    for (const x of rows.slice(0, MAX_ROWS)) {
      const j = x.ep.evaluator || {};
      const tr = row([x.agent, x.ep.task_id, x.ep.category, String(x.ep.episode_seed), fmt(j.alignment, 2),
        // An episode with spans the extractor did not understand is never shown as a plain success.
        el("span", {class: outcome(x.ep) === "passed" ? "pass" : (outcome(x.ep) === "failed" ? "fail" : ""),
          text: fmt(j.accuracy, 0) + (unreadCount(x.ep) ? " *" : ""), title: outcomeText(x.ep)}),
        fmt(x.ep.cost, 1), String(x.ep.steps.length)]);
      tr.className = "row";
      tr.dataset.agent = x.agent;
      tr.dataset.key = x.ep.task_id + "|" + x.ep.episode_seed;
      if (state.a && state.a.ep === x.ep) tr.classList.add("selected");
      tr.addEventListener("click", () => select(x));
      t.append(tr);
    }
    $("episode-count").textContent = (rows.length > MAX_ROWS ? `${rows.length} episodes (first ${MAX_ROWS} listed)` : `${rows.length} episodes`) +
      (rows.some((x) => unreadCount(x.ep)) ? "; * the prompt had spans not understood (not checked)" : "");
  }

  function select(x) {
    state.a = {agent: x.agent, ep: x.ep, step: 0};
    for (const tr of document.querySelectorAll("#episode-table tr.row")) {
      tr.classList.toggle("selected", tr.dataset.agent === x.agent && tr.dataset.key === x.ep.task_id + "|" + x.ep.episode_seed);
    }
    const others = Object.keys(byKey.get(x.ep.task_id + "|" + x.ep.episode_seed) || {}).filter((a) => a !== x.agent);
    const sel = $("compare-agent");
    sel.replaceChildren(el("option", {value: "", text: "(nobody)"}), ...others.map((a) => el("option", {value: a, text: a})));
    const keep = state.b && others.includes(state.b.agent) ? state.b.agent : (others[0] || "");
    sel.value = keep;
    drawPane("a");
    showB(keep);
  }

  function showB(agent) {
    const a = state.a;
    const ep = agent && a ? (byKey.get(a.ep.task_id + "|" + a.ep.episode_seed) || {})[agent] : null;
    state.b = ep ? {agent, ep, step: 0} : null;
    if (state.b) drawPane("b"); else $("pane-b").replaceChildren();
  }

  function stepPane(which, delta) {
    const s = state[which];
    if (!s) return;
    const next = Math.max(0, Math.min(s.ep.steps.length, s.step + delta));
    if (next !== s.step) { s.step = next; drawPane(which); }
  }

  function verdictTable(ep, v) {
    const t = el("table", {class: "step-info verdicts"});
    t.append(row(["check", "category", "critic", "confidence"], true));
    (v.i || []).forEach((ci_, k) => {
      const [q, cat] = ep.checks[ci_] || ["?", ""];
      const ok = v.p[k] === "1";
      t.append(row([q, cat, el("span", {class: ok ? "pass" : "fail", text: ok ? "yes" : "no"}), fmt(v.c ? v.c[k] : 1, 2)]));
    });
    return t;
  }

  function drawPane(which) {
    const s = state[which];
    const pane = $("pane-" + which);
    const ep = s.ep, k = s.step, n = ep.steps.length;
    const step = k > 0 ? ep.steps[k - 1] : null;
    const verdict = step ? step.verdict : ep.start.verdict;
    const reflection = step ? step.reflection : ep.start.reflection;
    const kids = [el("h4", {text: `${s.agent} on ${ep.task_id}`}),
      el("div", {class: "help", text: `${ep.category} (${ep.suite}), reset seed ${ep.episode_seed}`}),
      el("div", {class: "prompt", text: ep.prompt})];
    const nu = ep.not_understood;
    if (nu && nu.spans && (!Array.isArray(nu.spans) || nu.spans.length)) {
      const spans = (Array.isArray(nu.spans) ? nu.spans : [nu.spans]).map((x) =>
        el("span", {class: "span", text: typeof x === "string" ? x : (x.text || x.span || JSON.stringify(x))}));
      const cov = typeof nu.coverage === "number" ? ` (coverage ${fmt(nu.coverage, 2)})` : "";
      kids.push(el("div", {class: "unread"}, `Not understood${cov}: `, ...spans));
    }
    const cmds = el("ol", {class: "commands"});
    for (const c of ep.commands) cmds.append(el("li", {class: step && c.text === step.command ? "current" : "", text: `[${c.kind}] ${c.text}`}));
    kids.push(el("details", {}, el("summary", {text: `the extractor's commands (${ep.commands.length})`}), cmds));
    const fw = ep.frame_width;
    const frame = el("div", {class: "frame", role: "img", "data-step": String(k),
      "aria-label": k ? `canvas after step ${k}` : "canvas at the start"});
    frame.style.width = `${fw * SCALE}px`;
    frame.style.height = `${fw * SCALE}px`;
    frame.style.backgroundImage = `url("${ep.image}")`;
    frame.style.backgroundSize = `${fw * SCALE * (n + 1)}px ${fw * SCALE}px`;
    frame.style.backgroundPosition = `${-k * fw * SCALE}px 0px`;
    kids.push(frame);
    const prev = el("button", {type: "button", class: "prev", text: "\u2190 prev"});
    const next = el("button", {type: "button", class: "next", text: "next \u2192"});
    const range = el("input", {type: "range", min: "0", max: String(n), value: String(k), class: "step-range"});
    prev.disabled = k === 0; next.disabled = k === n;
    prev.addEventListener("click", () => stepPane(which, -1));
    next.addEventListener("click", () => stepPane(which, 1));
    range.addEventListener("input", () => { s.step = Number(range.value); drawPane(which); });
    kids.push(el("div", {class: "stepper"}, prev, range, next, el("span", {class: "step-label", text: `step ${k} / ${n}`})));
    const info = el("table", {class: "step-info"});
    if (step) {
      info.append(row(["expert", `${step.expert} (cost ${fmt(step.cost, 2)})`]));
      info.append(row(["command", `[${step.kind}] ${step.command}`]));
      info.append(row(["reward", fmt(step.reward, 3)]));
      info.append(row(["outcome", el("span", {class: step.passed ? "pass" : "fail", text: step.passed ? "accepted" : "not accepted"})]));
      if (step.error) info.append(row(["error", step.error]));
      if (step.invalid_action) info.append(row(["action", "invalid (masked or out of range)"]));
    } else {
      info.append(row(["start", ep.commands.length ? "the source image or a blank canvas, before any expert" : "-"]));
    }
    info.append(row(["critic score", fmt(verdict.score, 3)]));
    info.append(row(["reflection", el("span", {class: "reflection", text: reflection || "(none: nothing failed)"})]));
    kids.push(info, verdictTable(ep, verdict));
    const j = ep.evaluator || {};
    const jd = el("div", {class: "judgement"});
    if (j.judged) {
      jd.append(el("b", {text: "Evaluator's final judgement: "}),
        `${outcomeText(ep)}; alignment ${fmt(j.alignment, 3)}, accuracy ${fmt(j.accuracy, 0)}, fidelity ${fmt(j.fidelity, 0)}; ` +
        `critic score ${fmt(ep.critic_score, 3)}, cost ${fmt(ep.cost, 2)}, return ${fmt(ep.return, 3)}`);
      if (j.same_as_critic) jd.append(el("p", {class: "warning", text: "Judged by the critic's own model: likely optimistic."}));
      if (j.checks) {
        const t = el("table", {class: "step-info"});
        t.append(row(["task check", "category", "evaluator"], true));
        for (const [q, cat, p] of j.checks) t.append(row([q, cat, el("span", {class: p ? "pass" : "fail", text: p ? "yes" : "no"})]));
        jd.append(t);
      }
    } else {
      jd.append(el("b", {text: "Not judged: "}), j.reason || "the evaluator could not judge this episode");
    }
    kids.push(jd);
    pane.replaceChildren(...kids);
  }

  document.addEventListener("keydown", (e) => {
    if (e.target && e.target.tagName === "SELECT") return;
    if (e.key === "ArrowRight") stepPane("a", 1);
    if (e.key === "ArrowLeft") stepPane("a", -1);
  });

  renderResults();
  loadEpisodes(setupEpisodes);
})();
