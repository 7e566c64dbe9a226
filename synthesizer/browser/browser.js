// The sample browser: reads the index embedded in #fr-data (gzip, base64) at load, lists it in a virtual
// list and filters it; the views themselves sit in chunks (script.fr-chunk: gzip, base64, one view per line)
// unpacked only when one of theirs is opened or a text search needs them, and rendered only when opened.
(function () {
  "use strict";
  var ROW = 46;
  var root = document.getElementById("fr-browser");
  var list = document.getElementById("fr-list");
  var spacer = list.firstElementChild;
  var detail = document.getElementById("fr-detail");
  var count = document.getElementById("fr-count");
  var search = document.getElementById("fr-search");
  var selects = {};
  ["env", "scenario", "variant", "status", "reason"].forEach(function (name) {
    selects[name] = document.getElementById("fr-" + name);
  });
  var index = [];      // [id, kind, env, scenario, status, variants, reason_kind, title] per view
  var chunks = [];     // the script.fr-chunk elements; chunk k holds views k*size .. (k+1)*size-1
  var size = 1;
  var lines = [];      // each view as JSON text once its chunk is unpacked, parsed when opened
  var lowered = [];    // lines lower-cased, as a search first needs them
  var unpacking = {};  // chunk -> promise of its lines
  var byId = {};
  var shown = [];
  var opened = -1;
  var generation = 0;

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function short(value) {
    var text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value);
    return text.length > 60 ? text.slice(0, 57) + "..." : text;
  }

  async function gunzip(packed) {
    var bytes;
    if (Uint8Array.fromBase64) {
      bytes = Uint8Array.fromBase64(packed);
    } else {
      var binary = atob(packed);
      bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }

  function unpack(k) {  // a promise of chunk k's views as lines
    if (!unpacking[k]) {
      unpacking[k] = gunzip(chunks[k].textContent.trim()).then(function (text) {
        text.split("\n").forEach(function (line, j) { lines[k * size + j] = line; });
      });
    }
    return unpacking[k];
  }

  async function load() {
    var data = document.getElementById("fr-data");
    size = Number(data.getAttribute("data-chunk-size"));
    chunks = Array.prototype.slice.call(root.querySelectorAll("script.fr-chunk"));
    var text = await gunzip(data.textContent.trim());
    performance.mark("fr-unpacked");
    index = JSON.parse(text);
    index.forEach(function (entry, i) { byId[entry[0]] = i; });
    performance.mark("fr-parsed");
    fillSelects();
    applyFilters();
    if (openFromHash()) root.scrollIntoView({block: "start"});  // a permalink: show the browser, not the figures
    root.setAttribute("data-ready", "1");
    performance.mark("fr-ready");  // what bench/browser.py reads as the load time
  }

  function fillSelects() {
    var seen = {env: {}, scenario: {}, variant: {}, status: {}, reason: {}};
    index.forEach(function (entry) {
      seen.env[entry[2]] = 1;
      seen.scenario[entry[3]] = 1;
      seen.status[entry[4]] = 1;
      entry[5].forEach(function (variant) { seen.variant[variant] = 1; });
      if (entry[6]) seen.reason[entry[6]] = 1;
    });
    Object.keys(seen).forEach(function (name) {
      Object.keys(seen[name]).sort().forEach(function (value) {
        var option = document.createElement("option");
        option.value = value;
        option.textContent = value;
        selects[name].appendChild(option);
      });
      selects[name].addEventListener("change", applyFilters);
    });
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(applyFilters, 150);
    });
  }

  function applyFilters() {
    var want = {};
    Object.keys(selects).forEach(function (name) { want[name] = selects[name].value; });
    var query = search.value.trim().toLowerCase();
    var mine = ++generation;
    var matches = [];
    var i = 0;
    function slice() {
      if (mine !== generation) return;
      var until = performance.now() + 12;
      for (; i < index.length; i++) {
        if ((i & 63) === 0 && performance.now() > until) {
          count.textContent = "searching... " + matches.length + " so far";
          setTimeout(slice, 0);
          return;
        }
        var entry = index[i];
        if (want.env && entry[2] !== want.env) continue;
        if (want.scenario && entry[3] !== want.scenario) continue;
        if (want.status && entry[4] !== want.status) continue;
        if (want.variant && entry[5].indexOf(want.variant) < 0) continue;
        if (want.reason && entry[6] !== want.reason) continue;
        if (query) {
          if (lines[i] === undefined) {  // its chunk is still packed: unpack it, then go on from here
            count.textContent = "searching... " + matches.length + " so far";
            unpack(Math.floor(i / size)).then(slice);
            return;
          }
          if (lowered[i] === undefined) lowered[i] = lines[i].toLowerCase();
          if (lowered[i].indexOf(query) < 0) continue;
        }
        matches.push(i);
      }
      shown = matches;
      var statuses = {};
      shown.forEach(function (j) { statuses[index[j][4]] = (statuses[index[j][4]] || 0) + 1; });
      count.textContent = shown.length + " of " + index.length + " shown" + (shown.length ? " (" +
        Object.keys(statuses).sort().map(function (s) { return statuses[s] + " " + s; }).join(", ") + ")" : "");
      count.setAttribute("data-shown", String(shown.length));
      spacer.style.height = shown.length * ROW + "px";
      list.scrollTop = 0;
      drawRows();
      count.setAttribute("data-generation", String(mine));
    }
    slice();
  }

  function drawRows() {
    var first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    var last = Math.min(shown.length, first + Math.ceil(list.clientHeight / ROW) + 10);
    var html = "";
    for (var k = first; k < last; k++) {
      var entry = index[shown[k]];
      html += '<div class="fr-row' + (shown[k] === opened ? " fr-open" : "") + '" style="top:' + k * ROW +
        'px" data-id="' + esc(entry[0]) + '"><div class="fr-id"><span class="fr-badge fr-' + esc(entry[4]) + '">' +
        esc(entry[4]) + "</span>" + esc(entry[0]) + '</div><div class="fr-sub">' + esc(entry[2]) + " · " +
        esc(entry[5].join(", ") || entry[6] || "") + " · " + esc(entry[7]) + "</div></div>";
    }
    spacer.innerHTML = html;
  }

  list.addEventListener("scroll", function () { requestAnimationFrame(drawRows); });
  list.addEventListener("click", function (event) {
    var row = event.target.closest(".fr-row");
    if (row) location.hash = "sample=" + encodeURIComponent(row.getAttribute("data-id"));
  });
  window.addEventListener("hashchange", openFromHash);

  function openFromHash() {
    var match = /(?:^#|&)sample=([^&]*)/.exec(location.hash);
    if (!match) return false;
    var id = decodeURIComponent(match[1]);
    if (!(id in byId)) {
      detail.innerHTML = '<p class="fr-empty">No sample ' + esc(id) + " in this report.</p>";
      return true;
    }
    open(byId[id]);
    return true;
  }

  async function open(i) {
    opened = i;
    await unpack(Math.floor(i / size));
    if (opened !== i) return;  // another was picked meanwhile
    var view = JSON.parse(lines[i]);
    detail.innerHTML = renderView(view);
    detail.querySelector(".fr-permalink").href = "#sample=" + encodeURIComponent(view.id);
    detail.scrollTop = 0;
    var position = shown.indexOf(i);
    if (position >= 0 && (position * ROW < list.scrollTop || (position + 1) * ROW > list.scrollTop + list.clientHeight)) {
      list.scrollTop = position * ROW;
    }
    drawRows();
    drawArrows();
  }

  function renderView(view) {
    var html = '<div class="fr-head"><h3>' + esc(view.id) + '</h3><div class="fr-meta"><span class="fr-badge fr-' +
      esc(view.status) + '">' + esc(view.status) + "</span>" + esc(view.env) + " · scenario " + esc(view.scenario) +
      (view.model ? " · model " + esc(view.model) : "") + (view.attempts != null ? " · " + esc(view.attempts) +
      " attempts" : "") + ' · <a class="fr-permalink">permalink</a></div></div>';
    if (view.reason) {
      html += '<div class="fr-reason"><b>' + (view.kind === "reject" ? "Rejected" : "Failed") +
        (view.failed_turn ? " at turn " + esc(view.failed_turn) : "") + ":</b> " + esc(view.reason) + "</div>";
    }
    html += '<div class="fr-chat"><svg class="fr-arrows"></svg>';
    view.turns.forEach(function (turn, number) { html += renderTurn(view, turn, number); });
    if (view.walk && view.walk.length) {
      html += '<details class="fr-turn fr-walk"' + (view.turns.length ? "" : " open") +
        '><summary class="fr-turn-label">The walk this ' + esc(view.kind) + " came from (" + view.walk.length +
        " recorded calls)</summary>";
      view.walk.forEach(function (step) {
        var id = "w" + step.index;
        var call = {tool: step.tool, diff: step.diff, origins: walkOrigins(step)};
        html += renderCall(id, step.tool, step.arguments, call, view);
        html += renderResult(id, step.tool, step.is_error ? step.text : JSON.stringify(step.result), step.is_error);
      });
      html += "</details>";
    }
    if (!view.turns.length && !(view.walk && view.walk.length)) html += '<p class="fr-empty">No messages recorded.</p>';
    return html + "</div>";
  }

  function walkOrigins(step) {
    var origins = {};
    Object.keys(step.provenance || {}).forEach(function (name) {
      var p = step.provenance[name];
      origins[name] = p.source === "result" ? {kind: "result", call: "w" + p.step, tool: p.tool, field: p.field} :
        {kind: p.source || "model"};
    });
    return origins;
  }

  function renderTurn(view, turn, number) {
    var failure = turn.failure;
    var label = "Turn " + (number + 1) + " · variant <b>" + esc(turn.variant || "plain") + "</b>" +
      (turn.target ? " · target <b>" + esc(turn.target) + "</b>" : "") +
      (turn.withheld ? " · withheld " + esc(turn.withheld) : "") +
      (turn.attempts != null ? " · " + esc(turn.attempts) + " attempt(s)" : "");
    var html = '<div class="fr-turn' + (failure ? " fr-failed-turn" : "") + '" data-turn="' + number + '">' +
      '<div class="fr-turn-label">' + label + "</div>";
    if (failure) html += renderFailure(failure);
    var said = 0;
    turn.messages.forEach(function (message) {
      var role = message.role;
      if (role === "tool") {
        var content = message.content;
        html += renderResult(message.tool_call_id, message.name, content, message.is_error || /^Error|"error"/.test(content || ""));
        return;
      }
      html += '<div class="fr-msg fr-' + esc(role) + '"' + (role === "user" ? ' data-user="' + number + "." + said++ + '"' : "") +
        '><span class="fr-role">' + esc(role) + "</span>";
      if (message.reasoning) {
        html += '<details class="fr-think"><summary>reasoning</summary><div class="fr-reasoning">' +
          esc(message.reasoning) + "</div></details>";
      }
      if (message.content) html += esc(message.content);
      (message.tool_calls || []).forEach(function (call) {
        var args = call["function"].arguments;
        if (typeof args === "string") { try { args = JSON.parse(args); } catch (e) { args = {}; } }
        html += renderCall(call.id, call["function"].name, args, (view.calls || {})[call.id], view);
      });
      html += "</div>";
    });
    return html + "</div>";
  }

  function renderFailure(failure) {
    var html = '<div class="fr-reason"><b>Failed here: ' + esc(failure.kind) + "</b>";
    if (failure.why) html += " — " + esc(failure.why);
    if (failure.state_keys && failure.state_keys.length) {
      html += '<div>State keys that differ from the ground truth:</div><ul class="fr-diff">' +
        failure.state_keys.map(function (d) {
          var expected = d.absent === "expected" ? "absent" : short(d.expected);
          var got = d.absent === "got" ? "absent" : short(d.got);
          return "<li>" + esc(d.path) + ": expected " + esc(expected) + ", got " + esc(got) + "</li>";
        }).join("") + "</ul>";
    }
    if (failure.missing && failure.missing.length) {
      html += "<div>Results the user asked for and never got:</div>" +
        failure.missing.map(function (r) { return "<pre>" + esc(JSON.stringify(r, null, 2)) + "</pre>"; }).join("");
    }
    return html + "</div>";
  }

  function renderCall(id, tool, args, call, view) {
    var names = Object.keys(args || {});
    var inline = names.map(function (n) { return esc(n) + "=" + esc(short(args[n])); }).join(", ");
    var html = '<details class="fr-call" id="c-' + esc(id) + '"><summary>&#8594; <b>' + esc(tool) + "</b>(" +
      inline + ")</summary>";
    if (names.length) {
      html += '<table class="fr-args">';
      names.forEach(function (n) {
        html += "<tr><td>" + esc(n) + "</td><td>" + esc(JSON.stringify(args[n])) + "</td><td>" +
          renderOrigin(call && call.origins ? call.origins[n] : null, view) + "</td></tr>";
      });
      html += "</table>";
    }
    html += renderDiff(call ? call.diff : null);
    return html + "</details>";
  }

  function renderOrigin(origin, view) {
    if (!origin) return '<span class="fr-origin fr-plain">origin not recorded</span>';
    if (origin.kind === "result") {
      var where = view.calls && view.calls[origin.call] ? " (turn " + (view.calls[origin.call].turn + 1) + ")" : "";
      return '<span class="fr-origin" data-goto="r-' + esc(origin.call) + '">&#8592; result of ' +
        esc(origin.tool || "a call") + (origin.field ? "." + esc(origin.field) : "") + where + "</span>";
    }
    if (origin.kind === "user") {
      return '<span class="fr-origin" data-goto-user="' + origin.turn + "." + (origin.said || 0) + '">&#8592; the user, turn ' +
        (origin.turn + 1) + "</span>";
    }
    return '<span class="fr-origin fr-plain">from ' + esc(origin.kind) + "</span>";
  }

  function renderDiff(diff) {
    if (diff == null) return '<div class="fr-diff">state diff: not recorded</div>';
    if (!diff.length) return '<div class="fr-diff">state diff: nothing changed</div>';
    return '<div class="fr-diff">state diff:<ul>' + diff.map(function (op) {
      var path = (op.path || []).join(".");
      return "<li>" + esc(op.op) + " " + esc(path) + (op.op === "remove" ? "" : " = " + esc(short(op.value))) + "</li>";
    }).join("") + "</ul></div>";
  }

  function renderResult(id, tool, content, isError) {
    var body = content == null ? "" : String(content);
    try { body = JSON.stringify(JSON.parse(body), null, 2); } catch (e) { /* plain text stays as it is */ }
    return '<details class="fr-result' + (isError ? " fr-error" : "") + '" id="r-' + esc(id) + '"><summary>&#8656; ' +
      esc(tool || "result") + (isError ? " error" : " result") + " (" + body.length + " chars)</summary><pre>" +
      esc(body) + "</pre></details>";
  }

  function folded(element) {  // inside a closed <details> (chromium still lays such content out, hidden)
    return Boolean(element.parentElement.closest("details:not([open])"));
  }

  function drawArrows() {
    var chat = detail.querySelector(".fr-chat");
    if (!chat) return;
    var svg = chat.querySelector(".fr-arrows");
    var top = chat.getBoundingClientRect().top;
    var paths = "";
    var lane = 0;
    chat.querySelectorAll(".fr-call").forEach(function (call) {
      if (folded(call)) return;
      var target = call.querySelector("summary").getBoundingClientRect();
      var seen = {};
      call.querySelectorAll(".fr-origin[data-goto],.fr-origin[data-goto-user]").forEach(function (origin) {
        var goto = origin.getAttribute("data-goto");
        var source = goto ? document.getElementById(goto) :
          chat.querySelector('[data-user="' + origin.getAttribute("data-goto-user") + '"]');
        var key = goto || "u" + origin.getAttribute("data-goto-user");
        if (!source || seen[key] || folded(source)) return;
        seen[key] = 1;
        var from = source.getBoundingClientRect();
        var y1 = from.top - top + 10, y2 = target.top - top + target.height / 2;
        if (y1 >= y2) return;
        var x = 50 - 6 * (lane++ % 7) - 8;
        paths += '<path class="' + (goto ? "fr-from-result" : "fr-from-user") + '" d="M54 ' + y1 + " C" + x + " " + y1 + " " +
          x + " " + y2 + " 54 " + y2 + '" marker-end="url(#fr-head)"/>';
      });
    });
    svg.setAttribute("height", chat.scrollHeight);
    svg.innerHTML = '<defs><marker id="fr-head" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto">' +
      '<path d="M0,0 L6,3 L0,6" style="stroke:#7a5cff;fill:none"/></marker></defs>' + paths;
    svg.setAttribute("data-arrows", String(paths ? paths.split("<path").length - 1 : 0));
  }

  detail.addEventListener("toggle", function () { requestAnimationFrame(drawArrows); }, true);
  detail.addEventListener("click", function (event) {
    var origin = event.target.closest(".fr-origin");
    if (!origin) return;
    var goto = origin.getAttribute("data-goto");
    var source = goto ? document.getElementById(goto) :
      detail.querySelector('[data-user="' + origin.getAttribute("data-goto-user") + '"]');
    if (!source) return;
    if (source.tagName === "DETAILS") source.open = true;
    source.scrollIntoView({block: "center"});
    source.classList.add("fr-flash");
    setTimeout(function () { source.classList.remove("fr-flash"); }, 1200);
  });

  if (typeof DecompressionStream === "undefined") {
    detail.innerHTML = '<p class="fr-empty">This browser cannot unpack the embedded samples (no DecompressionStream).</p>';
  } else {
    load();
  }
})();
