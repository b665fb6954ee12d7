// The person picker shared by the live page, the library (and its upload form), progress and
// compare. People come from GET /api/people (Person records, oldest first). With one person the
// picker stays hidden, so a home user never sees the choice. The choice is remembered on this
// device, so every page opens on the person last picked.
import { el, getJSON, showError } from "./api.js";

const KEY = "posecoach.person";

// A person's height as the server accepts it (posecoach/server/storage.py, settings.py):
// more than `above` and less than `below` centimetres.
export const HEIGHT_CM = { above: 50, below: 260 };
export const HEIGHT_RANGE_TEXT = `between ${HEIGHT_CM.above} and ${HEIGHT_CM.below}`;

/** `text` as centimetres when it is a height the server accepts, else null. */
export function heightCmOrNull(text) {
  const raw = String(text ?? "").trim();
  const h = Number(raw);
  return raw && Number.isFinite(h) && h > HEIGHT_CM.above && h < HEIGHT_CM.below ? h : null;
}

// The timed test's populations (posecoach/coach/timed_test.py POPULATIONS): `label` for a
// choice, `phrase` inside a sentence.
export const POPULATIONS = [
  { value: "community", label: "Community-dwelling older adults", phrase: "community-dwelling older adults" },
  { value: "nursing_home", label: "Nursing-home residents", phrase: "nursing-home residents" },
  { value: "parkinsons", label: "Parkinson's disease", phrase: "people with Parkinson's disease" },
  { value: "stroke", label: "After a stroke", phrase: "people after a stroke" },
  { value: "ms", label: "Multiple sclerosis", phrase: "people with multiple sclerosis" },
];

export function populationLabel(value) {
  return POPULATIONS.find((p) => p.value === value)?.label ?? "–";
}

export function populationPhrase(value) {
  return POPULATIONS.find((p) => p.value === value)?.phrase ?? "this population";
}

/** The people, oldest first; an empty list (and a shown error) when they cannot be loaded. */
export async function loadPeople() {
  try {
    const people = await getJSON("/api/people");
    return Array.isArray(people) ? people : [];
  } catch (err) {
    if (err.status !== 404) showError(`Could not load the people: ${err.message}`);
    return [];
  }
}

export function rememberedPersonId() {
  try { return localStorage.getItem(KEY); } catch (_) { return null; }
}

export function rememberPerson(id) {
  try { if (id) localStorage.setItem(KEY, id); } catch (_) { /* private mode: not remembered */ }
}

/** The person with id `wanted`, else the remembered one, else the first (the default person). */
export function choosePerson(people, wanted = null) {
  return people.find((p) => p.id === wanted) ?? people.find((p) => p.id === rememberedPersonId())
    ?? people[0] ?? null;
}

/**
 * A labelled <select> of `people` inside `container` (hidden with fewer than two people).
 * `initial`: the id to show first (else the remembered person). `remember`: store the user's
 * choice for the other pages. `onChange(person)` runs after the user picks someone.
 * Returns {select, people, person()} where person() is the chosen Person or null.
 */
export function personPicker(container, people, {
  id = "person", label = "Person", initial = null, remember = true, onChange = null,
} = {}) {
  const select = el("select", { id, name: "person_id" },
    ...people.map((p) => el("option", { value: p.id }, p.name)));
  const first = choosePerson(people, initial);
  if (first) select.value = first.id;
  container.classList.add("person-picker");
  container.replaceChildren(el("label", { for: id }, label), select);
  container.hidden = people.length < 2;
  const person = () => people.find((p) => p.id === select.value) ?? null;
  select.addEventListener("change", () => {
    if (remember) rememberPerson(select.value);
    if (onChange) onChange(person());
  });
  return { select, people, person };
}
