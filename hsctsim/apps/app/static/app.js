// hsctsim app: the page's controls, its requests and what it draws (no library, no CDN).
"use strict";

const page = { catalogue: null, seq: 0, ceaSeq: 0, timer: null, state: null, views: 0 };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fmt(x) { return Number(x.toPrecision(4)).toString(); }

function arm(name) { return page.catalogue.arms.find((a) => a.name === name); }

function chosenArms() {
  return [...document.querySelectorAll("#arms input:checked")].map((i) => i.value);
}

function setStatus(text, kind) {
  const s = $("status");
  s.textContent = text;
  s.className = "status" + (kind ? " " + kind : "");
  $("results").classList.toggle("updating", kind === "updating");
  // refused: what is shown is the last view, not what the controls now say
  $("results").classList.toggle("stale", kind === "failed");
}

// -- the controls -------------------------------------------------------------

function buildArms() {
  const box = $("arms");
  for (const a of page.catalogue.arms) {
    const input = el("input", { type: "checkbox", value: a.name, id: "arm-" + a.name });
    input.checked = page.catalogue.defaults.arms.includes(a.name);
    input.addEventListener("change", () => { buildWhatIfs(); schedule(); });
    box.append(el("label", { for: "arm-" + a.name, title: a.population }, input,
                  " " + a.name + " ", el("span", { class: "title", text: a.title })));
  }
  const patients = $("patients");
  for (const n of page.catalogue.patient_choices) {
    const o = el("option", { value: String(n), text: n.toLocaleString("en-US") });
    if (n === page.catalogue.defaults.patients) o.selected = true;
    patients.append(o);
  }
  patients.addEventListener("change", schedule);
  $("seed").value = String(page.catalogue.defaults.seed);
  $("seed").addEventListener("change", schedule);
  $("pilot").value = String(page.catalogue.defaults.pilot);
  $("pilot").addEventListener("change", schedule);
  for (const r of document.querySelectorAll("input[name=calibration]")) {
    r.addEventListener("change", schedule);
  }
}

function slider(armName, c) {
  const id = armName + ":" + c.key;
  const range = el("input", { type: "range", min: String(c.low), max: String(c.high),
                              step: "any", "aria-label": c.label, "data-control": id });
  range.value = String(c.mid);
  const box = el("input", { type: "text", value: fmt(c.mid), "data-control-text": id,
                            "aria-label": c.label + " (value)" });
  const wrap = el("div", { class: "slider", "data-key": c.key, "data-arm": armName },
    el("div", { class: "name", text: c.label }),
    el("div", { class: "row" }, range, box),
    el("div", { class: "range",
                text: `reported ${fmt(c.low)} to ${fmt(c.high)}; calibrated at ${fmt(c.mid)}` }),
    el("div", { class: "error", "data-error-for": id }),
    el("div", { class: "source", title: c.source, text: "source: " + c.source }));
  wrap.dataset.value = "";  // empty: at the midpoint, not part of the what-if
  range.addEventListener("input", () => {
    const v = Number(range.value);
    box.value = fmt(v);
    const moved = Math.abs(v - c.mid) > 1e-3 * (c.high - c.low);
    wrap.dataset.value = moved ? fmt(v) : "";
    wrap.classList.toggle("moved", moved);
    schedule();
  });
  box.addEventListener("change", () => {
    const text = box.value.trim();
    const v = Number(text);
    if (text !== "" && Number.isFinite(v) && v >= c.low && v <= c.high) range.value = String(v);
    // sent as typed: the server says what is wrong with it, beside this control
    const moved = !(text !== "" && Number.isFinite(v) && Math.abs(v - c.mid) < 1e-12);
    wrap.dataset.value = moved ? text : "";
    wrap.classList.toggle("moved", moved);
    schedule();
  });
  return wrap;
}

function buildWhatIfs() {
  const box = $("whatifs");
  const keep = {};
  for (const d of box.querySelectorAll("details.whatif")) keep[d.dataset.arm] = d;
  box.replaceChildren();
  for (const name of chosenArms()) {
    if (keep[name]) { box.append(keep[name]); continue; }
    const a = arm(name);
    const reset = el("button", { type: "button", text: "reset " + name });
    const details = el("details", { class: "whatif", "data-arm": name },
                       el("summary", { text: `What-if for ${name} (${a.controls.length} ranged figures)` }));
    details.open = chosenArms().length === 1;
    if (!a.controls.length) details.append(el("p", { class: "hint", text: "No figure of this arm is reported as a range." }));
    for (const c of a.controls) details.append(slider(name, c));
    details.append(el("div", { class: "error", "data-error-for": name + ":" }), reset);
    reset.addEventListener("click", () => {
      for (const s of details.querySelectorAll(".slider")) {
        const c = a.controls.find((x) => x.key === s.dataset.key);
        s.querySelector("input[type=range]").value = String(c.mid);
        s.querySelector("input[type=text]").value = fmt(c.mid);
        s.dataset.value = "";
        s.classList.remove("moved");
      }
      schedule();
    });
    box.append(details);
  }
}

function currentState() {
  const whatIf = {};
  for (const s of document.querySelectorAll("#whatifs .slider")) {
    if (s.dataset.value === "") continue;
    (whatIf[s.dataset.arm] ||= {})[s.dataset.key] = s.dataset.value;
  }
  return {
    arms: chosenArms(),
    what_if: whatIf,
    patients: Number($("patients").value),
    seed: $("seed").value.trim(),
    pilot: $("pilot").value.trim(),
    recalibrate: document.querySelector("input[name=calibration]:checked").value === "recalibrated",
  };
}

// -- the requests -------------------------------------------------------------

function schedule() {
  clearTimeout(page.timer);
  setStatus("updating…", "updating");
  page.timer = setTimeout(update, 150);  // a dragged slider: one request when it rests
}

function showErrors(errors) {
  for (const e of document.querySelectorAll("[data-error-for]")) e.textContent = "";
  for (const i of document.querySelectorAll(".invalid")) i.classList.remove("invalid");
  for (const [id, message] of Object.entries(errors || {})) {
    let box = document.querySelector(`[data-error-for="${CSS.escape(id)}"]`);
    if (!box) box = document.querySelector('[data-error-for="form"]');
    box.textContent = message;
    const input = document.querySelector(`[data-control-text="${CSS.escape(id)}"]`)
      || ({ seed: $("seed"), patients: $("patients"), pilot: $("pilot") })[id];
    if (input) input.classList.add("invalid");
  }
}

async function update() {
  const seq = ++page.seq;
  const state = currentState();
  let answer, data;
  try {
    answer = await fetch("/api/update", { method: "POST", body: JSON.stringify(state),
                                          headers: { "Content-Type": "application/json" } });
    data = await answer.json();
  } catch (err) {
    if (seq === page.seq) {
      showErrors({ form: "No answer from the hsctsim app server: is it still running? (" + err + ")" });
      setStatus("not updated", "failed");
    }
    return;
  }
  if (seq !== page.seq || data.superseded) return;  // a newer request is on its way
  if (!answer.ok) {
    showErrors(data.errors || { form: data.error || "the server could not answer" });
    setStatus("not updated: see the message beside the control", "failed");
    return;
  }
  showErrors({});
  page.state = state;
  draw(data);
  document.body.dataset.views = String(++page.views);  // a new view is drawn (tests wait on it)
  if ($("cea-section").open) loadCea();
  setStatus(`updated in ${data.seconds.toFixed(2)} s, ${data.patients.toLocaleString("en-US")} patients per cohort`, "");
}

// -- what it draws ------------------------------------------------------------

function draw(data) {
  $("figure").src = "data:image/png;base64," + data.figure_png;
  const head = el("tr", {}, el("th", { text: "endpoint" }), el("th", { text: "day" }),
                  ...data.columns.map((c) => el("th", { text: c })));
  const rows = data.rows.map((r) => el("tr", {}, el("td", { text: r.endpoint }),
    el("td", { class: "num", text: String(r.day) }),
    ...r.cells.map((c) => el("td", { class: "num", text: c }))));
  $("landmarks").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));

  const phead = el("tr", {}, ...["arm", "endpoint", "day", "published (range)", "simulated (95% CI)", "what it is", "source"]
    .map((t) => el("th", { text: t })));
  const prows = data.published.map((p) => el("tr", {}, el("td", { text: p.arm }),
    el("td", { text: p.endpoint }), el("td", { class: "num", text: String(p.day) }),
    el("td", { class: "num", text: p.published }),
    el("td", { class: "num" }, ...p.simulated.flatMap((s, i) => [
      ...(i ? [el("br")] : []), `${s.label}: ${s.text}`])),
    el("td", { text: p.use }), el("td", { class: "source", text: p.source })));
  $("published").replaceChildren(el("thead", {}, phead), el("tbody", {}, ...prows));

  const q = "?state=" + encodeURIComponent(JSON.stringify(page.state));
  const links = [["figure.png", "figure (PNG)"], ["figure.svg", "figure (SVG)"],
                 ["table.csv", "table (CSV)"]].map(([f, t]) =>
    el("a", { href: "/download/" + f + q, download: "", id: "download-" + f.replace(".", "-"), text: "⤓ " + t }));
  for (const name of page.state.arms) {
    links.push(el("a", { href: `/download/scenario.toml${q}&arm=${encodeURIComponent(name)}`,
                         download: "", id: "download-toml-" + name,
                         text: `⤓ ${name} scenario (TOML)` }));
  }
  $("downloads").replaceChildren(...links);

  const pilot = data.pilot;
  $("pilot-heading").textContent = `What a pilot of ${pilot.size} patients would see`;
  $("pilot-figure").src = "data:image/png;base64," + data.pilot_png;
  $("pilot-table").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { text: `patients of ${pilot.size}: median (95% of ${pilot.pilots.toLocaleString("en-US")} pilots)` }),
                    ...data.columns.map((c) => el("th", { text: c })))),
    el("tbody", {}, ...pilot.rows.map((r) => el("tr", {}, el("td", { text: r.label }),
      ...r.cells.map((c) => el("td", { class: "num", text: c }))))));
  $("pilot-downloads").replaceChildren(...[["pilot.png", "pilot figure (PNG)"], ["pilot.svg", "pilot figure (SVG)"]]
    .map(([f, t]) => el("a", { href: "/download/" + f + q, download: "", id: "download-" + f.replace(".", "-"), text: "⤓ " + t })));

  $("commands").replaceChildren(
    ...Object.entries(data.commands).map(([a, c]) => el("li", {}, el("code", { text: c }))),
    ...Object.entries(data.trial_commands).map(([a, c]) => el("li", {}, el("code", { text: c }))));
  $("notes").replaceChildren(...data.notes.map((n) => el("li", { text: n })));
}

// -- cost-effectiveness, on demand -------------------------------------------

async function loadCea() {
  if (!page.state) return;
  const seq = ++page.ceaSeq;
  const state = page.state;
  $("cea-status").textContent = "computing the cost-effectiveness…";
  $("cea-body").classList.add("updating");
  let answer, data;
  try {
    answer = await fetch("/api/cea", { method: "POST", body: JSON.stringify(state),
                                       headers: { "Content-Type": "application/json" } });
    data = await answer.json();
  } catch (err) {
    if (seq === page.ceaSeq) $("cea-status").textContent = "no answer from the server (" + err + ")";
    return;
  }
  if (seq !== page.ceaSeq) return;
  $("cea-body").classList.remove("updating");
  const box = document.querySelector('[data-error-for="cea"]');
  box.textContent = "";
  if (!answer.ok) {
    box.textContent = Object.values(data.errors || {}).join("; ") || data.error;
    $("cea-status").textContent = "";
    return;
  }
  if (!data.available) {
    $("cea-status").textContent = data.message;
    $("cea-body").hidden = true;
    return;
  }
  $("cea-status").textContent = `${data.currency} ${data.price_year}; mean (95% CI) per patient`;
  $("cea-body").hidden = false;
  $("cea-figure").src = "data:image/png;base64," + data.figure_png;
  const row = (cells, tag = "td") => el("tr", {}, ...cells.map((c) => el(tag, { class: tag === "td" ? "num" : "", text: c })));
  $("cea-cohorts").replaceChildren(
    el("thead", {}, row(["cohort", "costs", "life years", "QALYs"], "th")),
    el("tbody", {}, ...data.cohorts.map((c) => row([c.cohort, c.costs, c.life_years, c.qalys]))));
  const wtp = data.wtp.map((w) => w.toLocaleString("en-US"));
  $("cea-comparisons").replaceChildren(
    el("thead", {}, row(["comparison", "incremental costs", "incremental QALYs", "ICER",
                         ...wtp.map((w) => `net benefit at ${w}/QALY`)], "th")),
    el("tbody", {}, ...data.comparisons.map((c) => row([c.comparison, c.costs, c.qalys, c.icer,
                                                        ...Object.values(c.nmb)]))));
  const q = "?state=" + encodeURIComponent(JSON.stringify(state));
  $("cea-downloads").replaceChildren(...[["cea.png", "plane (PNG)"], ["cea.svg", "plane (SVG)"], ["cea.csv", "cost-effectiveness (CSV)"]]
    .map(([f, t]) => el("a", { href: "/download/" + f + q, download: "", id: "download-" + f.replace(".", "-"), text: "⤓ " + t })));
  $("cea-notes").replaceChildren(...data.caveats.map((c) => el("li", { text: c })),
                                 ...data.commands.map((c) => el("li", {}, "repeat: ", el("code", { text: c }))));
}

async function start() {
  $("cea-section").addEventListener("toggle", () => { if ($("cea-section").open) loadCea(); });
  try {
    page.catalogue = await (await fetch("/api/arms")).json();
  } catch (err) {
    setStatus("could not load the arms: " + err, "failed");
    return;
  }
  buildArms();
  buildWhatIfs();
  schedule();
}

start();
