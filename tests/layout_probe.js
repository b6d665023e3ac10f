// What a reader sees of a docs page at a given window width, measured in the browser.
//
// tests/test_docs.py serves the built docs over HTTP with a probe page that sets PAGES and
// WIDTHS and loads this script. Each page is opened in an iframe of each width (its media
// queries see the iframe's width as the window's), typeset by MathJax, and measured:
//
// * every displayed equation (mjx-container[display="true"] > mjx-math): a MathJax error in
//   place of the equation, or the first ancestor that hides part of it for good, if any. An
//   ancestor with hidden overflow hides what lies beyond its edges, unless it scrolls
//   horizontally and the part lies to the right, within its scroll width (content to the left
//   of a scroll box cannot be scrolled to);
// * every pre: its inner width in characters of its own font, the longest line it holds;
// * every table: cut as above, or wider than the column without a scroll box of its own.
//
// The results go into a JSON script element with the id numrnn-layout, added at the end of the
// probe page's body, which chromium --dump-dom prints.

function scrollsX(element) {
  const style = element.ownerDocument.defaultView.getComputedStyle(element).overflowX;
  return (style === "auto" || style === "scroll") && element.scrollWidth > element.clientWidth + 1;
}

// Why part of `box` (a DOMRect of `element`) cannot be seen, or null when all of it can.
function hiddenPart(box, element) {
  const view = element.ownerDocument.defaultView;
  let right = box.right;
  for (let a = element.parentElement; a && a !== element.ownerDocument.body; a = a.parentElement) {
    if (view.getComputedStyle(a).overflowX === "visible") continue;
    const edges = a.getBoundingClientRect();
    const name = a.tagName.toLowerCase() + "." + (a.className.split(" ")[0] || "");
    if (box.left < edges.left - 1) {
      return `cut ${Math.round(edges.left - box.left)} px on the left by ${name}`;
    }
    if (right > edges.right + 1) {
      const reachable = scrollsX(a) ? edges.left + a.scrollWidth : edges.right;
      if (right > reachable + 1) {
        return `cut ${Math.round(right - reachable)} px on the right by ${name}`;
      }
      right = edges.right; // what lies beyond is reached by scrolling this box
    }
  }
  if (right > element.ownerDocument.documentElement.clientWidth + 1) return "wider than the page";
  return null;
}

function equationLabel(math) {
  const mml = math.parentElement.querySelector("mjx-assistive-mml");
  const text = (mml ? mml.textContent : "").replace(/\s+/g, " ");
  const tag = text.match(/\(([MRSL]\.\d+)\)/);
  return tag ? tag[1] : text.slice(0, 40);
}

function charactersAcross(pre) {
  const view = pre.ownerDocument.defaultView;
  const ruler = pre.ownerDocument.createElement("span");
  ruler.textContent = "0".repeat(100);
  ruler.style.whiteSpace = "pre";
  pre.appendChild(ruler);
  const characterWidth = ruler.getBoundingClientRect().width / 100;
  ruler.remove();
  const style = view.getComputedStyle(pre);
  const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return Math.floor(inner / characterWidth + 0.01);
}

function measureDocument(doc) {
  const article = doc.querySelector("article.bd-article") || doc.body;
  const column = article.getBoundingClientRect();
  const equations = [];
  for (const math of article.querySelectorAll('mjx-container[display="true"] > mjx-math')) {
    const box = math.getBoundingClientRect();
    const error = math.querySelector("mjx-merror"); // TeX MathJax could not typeset
    const problem = error
      ? `is a MathJax error: ${error.getAttribute("data-mjx-error")}`
      : hiddenPart(box, math);
    equations.push({label: equationLabel(math), width: Math.round(box.width), problem: problem});
  }
  const code = [];
  for (const pre of article.querySelectorAll("pre")) {
    code.push({
      characters: charactersAcross(pre),
      longest: Math.max(...pre.textContent.split("\n").map((line) => line.length)),
      problem: hiddenPart(pre.getBoundingClientRect(), pre),
    });
  }
  const tables = [];
  for (const table of article.querySelectorAll("table")) {
    const box = table.getBoundingClientRect();
    let problem = hiddenPart(box, table);
    if (!problem && box.right > column.right + 1) {
      let scrollBox = null;
      for (let a = table.parentElement; a && a !== article; a = a.parentElement) {
        if (scrollsX(a)) scrollBox = a;
      }
      if (!scrollBox) problem = "wider than the column, with no scroll box of its own";
    }
    tables.push({width: Math.round(box.width), problem: problem});
  }
  return {column: Math.round(column.width), equations: equations, code: code, tables: tables};
}

function loaded(frame, url) {
  return new Promise((resolve) => {
    frame.onload = () => resolve();
    frame.src = url;
  });
}

async function measureAll() {
  const results = [];
  const frame = document.createElement("iframe");
  frame.style.height = "900px";
  frame.style.border = "0";
  document.body.appendChild(frame);
  for (const width of WIDTHS) {
    frame.style.width = width + "px";
    for (const page of PAGES) {
      await loaded(frame, page);
      const view = frame.contentWindow;
      if (view.MathJax && view.MathJax.startup) await view.MathJax.startup.promise;
      await view.document.fonts.ready;
      results.push({page: page, width: width, ...measureDocument(view.document)});
    }
  }
  return results;
}

measureAll()
  .then((results) => ({results: results}), (error) => ({error: String(error)}))
  .then((out) => {
    const script = document.createElement("script");
    script.type = "application/json";
    script.id = "numrnn-layout";
    script.textContent = JSON.stringify(out);
    document.body.appendChild(script);
  });
