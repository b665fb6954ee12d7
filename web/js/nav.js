// Marks the current page in the site navigation (aria-current) for every page.
const here = location.pathname.replace(/\/+$/, "") || "/";
for (const a of document.querySelectorAll("nav.site-nav a")) {
  const target = a.getAttribute("href").replace(/\/+$/, "") || "/";
  if (target === here || (target !== "/" && here.startsWith(target))) a.setAttribute("aria-current", "page");
}
