// People page: the people followed (GET /api/people, oldest first), added (POST), edited
// (PATCH /api/people/{id}) and deleted (DELETE /api/people/{id}?confirm=<name>) after the user
// types the name, since deleting removes the person's sessions, files and timed tests.
import {
  announce, clearErrors, el, fmtDate, getJSON, parseDate, sendJSON, showError,
} from "./api.js";
import {
  HEIGHT_RANGE_TEXT, POPULATIONS, heightCmOrNull, populationLabel, rememberPerson,
} from "./person.js";

const $ = (id) => document.getElementById(id);
const body = $("people-body");
const form = $("person-form");
const dialog = $("delete-dialog");
let people = [];
let editing = null; // the Person being edited, or null while adding
let deleting = null; // the Person the delete dialog asks about

const capital = (text) => (text ? text.charAt(0).toUpperCase() + text.slice(1) : "–");

function personLink(person, href, text) {
  return el("a", {
    href, onclick: () => rememberPerson(person.id), "aria-label": `${text} of ${person.name}`,
  }, text);
}

function render() {
  if (!people.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "empty" }, "Nobody yet. Add a person with the form.")));
    return;
  }
  body.replaceChildren(...people.map((p) => {
    const last = parseDate(p.last_session_at);
    return el("tr", { "data-person": p.id },
      el("th", { scope: "row" }, p.name),
      el("td", { class: "num", "data-label": "Height" }, typeof p.height_cm === "number" ? `${Math.round(p.height_cm)} cm` : "–"),
      el("td", { "data-label": "Level" }, capital(p.level)),
      el("td", { "data-label": "Population" }, populationLabel(p.population)),
      el("td", { class: "num", "data-label": "Sessions" }, String(p.sessions ?? 0)),
      el("td", { class: "when", "data-label": "Last session" }, last ? fmtDate(last) : "–"),
      el("td", { class: "notes" }, p.notes || ""),
      el("td", {}, el("div", { class: "button-row" },
        personLink(p, "/library", "Sessions"),
        personLink(p, "/progress", "Progress"),
        el("button", { type: "button", class: "btn", "aria-label": `Edit ${p.name}`, onclick: () => startEdit(p) }, "Edit"),
        el("button", { type: "button", class: "btn btn-bad", "aria-label": `Delete ${p.name}`, onclick: () => askDelete(p) }, "Delete"))));
  }));
}

async function load() {
  try {
    people = await getJSON("/api/people");
    render();
  } catch (err) {
    showError(`Could not load the people: ${err.message}`);
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "empty" }, "The people could not be loaded.")));
  }
}

// ---------------------------------------------------------------- add and edit

function fillForm(p) {
  $("p-name").value = p?.name ?? "";
  $("p-height").value = typeof p?.height_cm === "number" ? String(Math.round(p.height_cm)) : "";
  $("p-level").value = p?.level ?? "";
  $("p-population").value = p?.population ?? "";
  $("p-notes").value = p?.notes ?? "";
}

function startEdit(p) {
  editing = p;
  fillForm(p);
  $("form-heading").textContent = `Edit ${p.name}`;
  $("save-btn").textContent = "Save changes";
  $("cancel-edit").hidden = false;
  $("p-name").focus();
}

function stopEdit() {
  editing = null;
  fillForm(null);
  $("form-heading").textContent = "Add a person";
  $("save-btn").textContent = "Add person";
  $("cancel-edit").hidden = true;
}

/** The form as a Person body, or null (with the reason shown) when a field is wrong. */
function formBody() {
  const name = $("p-name").value.trim();
  if (!name) { showError("Enter a name or a code for the person."); $("p-name").focus(); return null; }
  const raw = $("p-height").value.trim();
  const h = heightCmOrNull(raw);
  if (raw && h === null) {
    showError(`Enter the height as a number of centimetres ${HEIGHT_RANGE_TEXT}, or leave it empty.`);
    $("p-height").focus();
    return null;
  }
  return {
    name,
    height_cm: h,
    level: $("p-level").value || null,
    notes: $("p-notes").value.trim(),
    population: $("p-population").value || null,
  };
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors();
  const data = formBody();
  if (!data) return;
  const btn = $("save-btn");
  btn.disabled = true;
  try {
    if (editing) {
      await sendJSON("PATCH", `/api/people/${encodeURIComponent(editing.id)}`, data);
      announce(`${data.name} saved.`);
    } else {
      await sendJSON("POST", "/api/people", data);
      announce(`${data.name} added.`);
    }
    stopEdit();
    await load();
  } catch (err) {
    showError(err.status === 409 ? `There is already someone called ${data.name}. Choose another name or code.` : err.message);
  } finally {
    btn.disabled = false;
  }
});
$("cancel-edit").addEventListener("click", stopEdit);

// ---------------------------------------------------------------- delete

function askDelete(p) {
  deleting = p;
  const n = p.sessions ?? 0;
  $("delete-name").textContent = p.name;
  $("delete-what").textContent = `This deletes ${p.name} with ${n} session${n === 1 ? "" : "s"}: their clips, reports and timed tests. `
    + "It cannot be undone.";
  $("delete-confirm").value = "";
  $("delete-yes").disabled = true;
  dialog.showModal();
  $("delete-confirm").focus();
}

$("delete-confirm").addEventListener("input", () => {
  $("delete-yes").disabled = !deleting || $("delete-confirm").value !== deleting.name;
});
$("delete-no").addEventListener("click", () => { deleting = null; dialog.close(); });
dialog.addEventListener("close", () => { deleting = null; });

$("delete-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const p = deleting;
  if (!p || $("delete-confirm").value !== p.name) return;
  $("delete-yes").disabled = true;
  try {
    await sendJSON("DELETE", `/api/people/${encodeURIComponent(p.id)}?confirm=${encodeURIComponent($("delete-confirm").value)}`);
    dialog.close();
    if (editing?.id === p.id) stopEdit();
    announce(`${p.name} deleted.`);
    await load();
  } catch (err) {
    dialog.close();
    showError(`${p.name} was not deleted: ${err.message}`);
  }
});

// ---------------------------------------------------------------- start

async function main() {
  $("p-population").append(...POPULATIONS.map((p) => el("option", { value: p.value }, p.label)));
  let levels = ["beginner", "intermediate", "advanced"];
  try {
    levels = (await getJSON("/api/config")).levels;
  } catch (_) { /* the usual three stand in */ }
  $("p-level").append(...levels.map((l) => el("option", { value: l }, capital(l))));
  await load();
}

main();
