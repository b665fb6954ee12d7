// One-tap pain check-in after a session: POST /api/sessions/{id}/checkin {pain, score}.
import { announce, el, postJSON, showError } from "./api.js";

const CHOICES = [
  { pain: "none", label: "No pain", cls: "btn-good" },
  { pain: "soreness", label: "Some soreness", cls: "btn-warn" },
  { pain: "pain", label: "Pain", cls: "btn-bad" },
];

/** Render the check-in form into `container` for session `id`. `existing` is a stored check-in. */
export function renderCheckin(container, id, existing = null) {
  const uid = `checkin-${Math.random().toString(36).slice(2, 8)}`;
  const result = el("p", { class: "checkin-result", role: "status" });
  const slider = el("input", {
    type: "range", id: `${uid}-score`, min: "0", max: "10", step: "1", value: "0",
    "aria-describedby": `${uid}-help`,
  });
  const out = el("output", { for: `${uid}-score`, class: "score-out" }, "0");
  slider.addEventListener("input", () => { out.textContent = slider.value; });

  const buttons = CHOICES.map((c) => el("button", {
    type: "button", class: `btn ${c.cls}`, "data-pain": c.pain,
    onclick: async () => {
      const score = c.pain === "none" ? 0 : Number(slider.value);
      try {
        await postJSON(`/api/sessions/${encodeURIComponent(id)}/checkin`, { pain: c.pain, score });
        result.textContent = `Saved: ${c.label.toLowerCase()}${c.pain === "none" ? "" : `, ${score} out of 10`}.` +
          (c.pain === "pain" ? " Listen to your body: reduce the intensity or stop, and rest." : "");
        announce(result.textContent);
        for (const b of buttons) b.setAttribute("aria-pressed", String(b === buttons[CHOICES.indexOf(c)]));
      } catch (err) {
        showError(`Could not save the check-in: ${err.message}`);
      }
    },
  }, c.label));
  for (const b of buttons) b.setAttribute("aria-pressed", "false");

  const fieldset = el("fieldset", { class: "checkin" },
    el("legend", {}, "How does your body feel?"),
    el("div", { class: "score-row" },
      el("label", { for: `${uid}-score` }, "Soreness or pain score (0 = none, 10 = worst)"),
      slider, out),
    el("p", { id: `${uid}-help`, class: "hint" }, "Set the score if anything hurts, then tap one button. \"No pain\" saves a 0."),
    el("div", { class: "button-row" }, ...buttons),
    result,
  );
  container.replaceChildren(fieldset);
  if (existing && existing.pain) {
    const i = CHOICES.findIndex((c) => c.pain === existing.pain);
    if (i >= 0) buttons[i].setAttribute("aria-pressed", "true");
    if (typeof existing.score === "number") { slider.value = String(existing.score); out.textContent = slider.value; }
    result.textContent = `Saved check-in: ${CHOICES[i]?.label.toLowerCase() ?? existing.pain}` +
      (typeof existing.score === "number" && existing.pain !== "none" ? `, ${existing.score} out of 10.` : ".");
  }
}
