// tflint html report: draws each model's graph from the data embedded in the page.
// Layered (Sugiyama-style) layout: layers by longest path, dummy nodes on long edges,
// barycentre ordering sweeps, then x positions pulled toward neighbours without overlap.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("tflint-data").textContent);
  const COLORS = DATA.colors;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const NODE_W = 156, NODE_H = 36, GROUP_W = 184, GROUP_H = 50, DUMMY_W = 8;
  const GAP_X = 22, GAP_Y = 44, MARGIN = 24, BOX_PAD = 10;

  function colorsOf(place) {
    if (place >= 1) return COLORS.partitions[(place - 1) % COLORS.partitions.length];
    if (place === 0) return COLORS.cpu;
    if (place === -1) return COLORS.removed;
    return COLORS.unknown;
  }

  function placeText(target, place) {
    if (place >= 1) {
      return target.partitions.length > 1 ? `${target.title} partition ${place}` : target.title;
    }
    if (place === 0) return "CPU";
    if (place === -1) return "removed at conversion";
    return "not predicted";
  }

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:")
      ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function shorten(text, max) {
    return text.length <= max ? text : "…" + text.slice(text.length - max + 1);
  }

  function opCounts(nodes, indices) {
    const counts = new Map();
    for (const i of indices) counts.set(nodes[i].op, (counts.get(nodes[i].op) || 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])
      .map(([op, n]) => (n > 1 ? `${op} ×${n}` : op)).join(", ");
  }

  // ---------------------------------------------------------------- layout
  function compareClusters(a, b) {
    for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k] - b[k];
    return 0;
  }

  function layout(items, edges) {
    // items: [{key, order, w, h, cluster}], edges: [[from, to, weight]] between item indices.
    // ``cluster`` lists the first op of each open group holding the item, outermost first:
    // sorting each layer by it first keeps the members of a group side by side.
    const n = items.length;
    const succ = Array.from({ length: n }, () => []);
    const pred = Array.from({ length: n }, () => []);
    const sorted = items.map((_, i) => i).sort((a, b) => items[a].order - items[b].order);
    const rank = new Array(n);
    sorted.forEach((item, r) => { rank[item] = r; });
    const oriented = edges.map(([u, v, w]) => (rank[u] < rank[v] ? [u, v, w, false] : [v, u, w, true]));
    for (const [u, v] of oriented) { succ[u].push(v); pred[v].push(u); }
    const layer = new Array(n).fill(0);
    for (const v of sorted) for (const u of pred[v]) layer[v] = Math.max(layer[v], layer[u] + 1);
    // Pull sources down next to their first consumer (constants, side inputs).
    for (let r = sorted.length - 1; r >= 0; r--) {
      const v = sorted[r];
      if (pred[v].length === 0 && succ[v].length) {
        layer[v] = Math.max(layer[v], Math.min(...succ[v].map((s) => layer[s])) - 1);
      }
    }
    // Virtual graph with dummies on long edges.
    const vx = items.map((item, i) => ({ item: i, layer: layer[i], w: item.w, h: item.h,
      cluster: item.cluster }));
    const vsucc = items.map(() => []), vpred = items.map(() => []);
    const routes = [];
    for (const [u, v, w, reversed] of oriented) {
      const chain = [u];
      for (let l = layer[u] + 1; l < layer[v]; l++) {
        vx.push({ item: -1, layer: l, w: DUMMY_W, h: 1, cluster: items[u].cluster });
        vsucc.push([]); vpred.push([]);
        chain.push(vx.length - 1);
      }
      chain.push(v);
      for (let k = 0; k + 1 < chain.length; k++) {
        vsucc[chain[k]].push(chain[k + 1]); vpred[chain[k + 1]].push(chain[k]);
      }
      routes.push({ chain, weight: w, reversed });
    }
    const layerCount = Math.max(0, ...vx.map((v) => v.layer)) + 1;
    const layers = Array.from({ length: layerCount }, () => []);
    // Initial order: items by execution order, dummies after their source.
    const seed = vx.map((v, i) => (v.item >= 0 ? rank[v.item] : null));
    for (const route of routes) {
      for (let k = 1; k + 1 < route.chain.length; k++) seed[route.chain[k]] = rank[route.chain[0]] + 0.5;
    }
    vx.forEach((v, i) => layers[v.layer].push(i));
    for (const l of layers) l.sort((a, b) => compareClusters(vx[a].cluster, vx[b].cluster) || seed[a] - seed[b]);
    const pos = new Array(vx.length);
    const refresh = () => layers.forEach((l) => l.forEach((v, i) => { pos[v] = i; }));
    refresh();
    const sweep = (from, neighbours) => {
      for (const l of from) {
        const key = new Map();
        for (const v of layers[l]) {
          const ns = neighbours[v];
          key.set(v, ns.length ? ns.reduce((s, x) => s + pos[x], 0) / ns.length : pos[v]);
        }
        layers[l].sort((a, b) => compareClusters(vx[a].cluster, vx[b].cluster) ||
          key.get(a) - key.get(b) || seed[a] - seed[b]);
        layers[l].forEach((v, i) => { pos[v] = i; });
      }
    };
    const down = [...Array(layerCount).keys()].slice(1), up = [...down].reverse().map((l) => l - 1);
    for (let it = 0; it < 4; it++) { sweep(down, vpred); sweep(up, vsucc); }
    // X coordinates: centres, packed, then pulled toward the neighbours' mean.
    const x = new Array(vx.length).fill(0);
    for (const l of layers) {
      let cursor = 0;
      for (const v of l) { x[v] = cursor + vx[v].w / 2; cursor += vx[v].w + GAP_X; }
    }
    const place = (l, neighbours) => {
      const order = layers[l];
      if (!order.length) return;
      const want = order.map((v) => {
        const ns = neighbours[v];
        return ns.length ? ns.reduce((s, u) => s + x[u], 0) / ns.length : x[v];
      });
      const p = [...want];
      for (let i = 1; i < order.length; i++) {
        p[i] = Math.max(p[i], p[i - 1] + (vx[order[i - 1]].w + vx[order[i]].w) / 2 + GAP_X);
      }
      for (let i = order.length - 2; i >= 0; i--) {
        p[i] = Math.min(p[i], p[i + 1] - (vx[order[i]].w + vx[order[i + 1]].w) / 2 - GAP_X);
      }
      let shift = 0;
      for (let i = 0; i < order.length; i++) shift += want[i] - p[i];
      shift /= order.length;
      order.forEach((v, i) => { x[v] = p[i] + shift; });
    };
    for (let it = 0; it < 6; it++) {
      for (let l = 1; l < layerCount; l++) place(l, vpred);
      for (let l = layerCount - 2; l >= 0; l--) place(l, vsucc);
    }
    const heights = layers.map((l) => Math.max(NODE_H, ...l.map((v) => vx[v].h)));
    const top = [];
    let y = MARGIN;
    for (let l = 0; l < layerCount; l++) { top.push(y); y += heights[l] + GAP_Y; }
    const minX = Math.min(0, ...vx.map((v, i) => x[i] - v.w / 2));
    const shiftX = MARGIN - minX;
    const boxes = items.map((item, i) => ({
      x: x[i] + shiftX - item.w / 2, y: top[layer[i]] + (heights[layer[i]] - item.h) / 2,
      w: item.w, h: item.h,
    }));
    const width = Math.max(200, ...vx.map((v, i) => x[i] + shiftX + v.w / 2)) + MARGIN;
    const paths = routes.map((route) => {
      const pts = route.chain.map((v, k) => {
        if (v < n) {
          const b = boxes[v];
          return [b.x + b.w / 2, k === 0 ? b.y + b.h : b.y];
        }
        return [x[v] + shiftX, top[vx[v].layer] + heights[vx[v].layer] / 2];
      });
      let d = `M${pts[0][0].toFixed(1)},${pts[0][1].toFixed(1)}`;
      for (let k = 1; k < pts.length; k++) {
        const [x0, y0] = pts[k - 1], [x1, y1] = pts[k];
        const my = (y0 + y1) / 2;
        d += ` C${x0.toFixed(1)},${my.toFixed(1)} ${x1.toFixed(1)},${my.toFixed(1)} ${x1.toFixed(1)},${y1.toFixed(1)}`;
      }
      return { d, weight: route.weight, reversed: route.reversed };
    });
    return { boxes, paths, width, height: y - GAP_Y + MARGIN };
  }

  // ---------------------------------------------------------------- one file
  class FileView {
    constructor(section, file) {
      this.section = section;
      this.file = file;
      this.nodes = file.nodes;
      this.groups = new Map(file.groups.map((g) => [g.id, g]));
      this.expanded = new Set(file.groups.filter((g) => g.expanded).map((g) => g.id));
      this.target = 0;
      this.zoom = 1;
      this.highlight = new Set();
      this.matches = new Set();
      this.matchCursor = -1;
      this.selected = null;
      this.activeFinding = null;
      this.activeIsland = null;
      this.ancestors = this.nodes.map((node) => {
        const chain = [];
        for (let g = node.group; g; g = this.groups.get(g).parent) chain.unshift(g);
        return chain;
      });
      this.groupAncestors = new Map(file.groups.map((g) => {
        const chain = [];
        for (let p = g.parent; p; p = this.groups.get(p).parent) chain.unshift(p);
        return [g.id, chain];
      }));
      this.groupFirst = new Map();
      this.ancestors.forEach((chain, i) => chain.forEach((g) => {
        if (!this.groupFirst.has(g)) this.groupFirst.set(g, i);
      }));
      this.producer = new Map();
      this.nodes.forEach((node, i) => node.out.forEach((t) => this.producer.set(t, i)));
      this.canvas = section.querySelector(".canvas");
      this.side = section.querySelector(".side");
      this.bind();
      this.selectTarget(0);
    }

    bind() {
      const s = this.section;
      s.querySelectorAll(".target-tab").forEach((tab, i) =>
        tab.addEventListener("click", () => this.selectTarget(i)));
      s.querySelector(".expand-all").addEventListener("click", () => {
        this.file.groups.forEach((g) => this.expanded.add(g.id)); this.draw();
      });
      s.querySelector(".collapse-all").addEventListener("click", () => {
        this.expanded.clear(); this.draw();
      });
      s.querySelector(".zoom-in").addEventListener("click", () => this.setZoom(this.zoom * 1.25));
      s.querySelector(".zoom-out").addEventListener("click", () => this.setZoom(this.zoom / 1.25));
      s.querySelector(".zoom-fit").addEventListener("click", () =>
        this.setZoom(Math.min(1, (this.canvas.clientWidth - 4) / this.size.width)));
      const search = s.querySelector(".search");
      search.addEventListener("input", () => this.search(search.value));
      search.addEventListener("keydown", (e) => { if (e.key === "Enter") this.nextMatch(); });
      s.querySelectorAll(".findings .finding").forEach((li) => {
        li.addEventListener("click", () => this.selectFinding(Number(li.dataset.finding)));
        li.addEventListener("keydown", (e) => {
          if (e.key === "Enter") this.selectFinding(Number(li.dataset.finding));
        });
      });
      this.canvas.addEventListener("click", (e) => {
        const node = e.target.closest(".node");
        if (node) { this.selectNode(Number(node.dataset.idx)); return; }
        const group = e.target.closest(".group-node");
        if (group) { this.expanded.add(group.dataset.groupId); this.draw(); return; }
        const label = e.target.closest(".group-box-label");
        if (label) { this.collapse(label.dataset.groupId); }
      });
    }

    get current() { return this.file.targets[this.target]; }

    selectTarget(i) {
      if (!this.file.targets.length) { this.draw(); return; }
      this.target = i;
      this.section.querySelectorAll(".target-tab").forEach((tab, k) =>
        tab.classList.toggle("active", k === i));
      const name = this.current.name;
      this.section.querySelectorAll(".findings .finding").forEach((li) =>
        li.classList.toggle("other-target", !!li.dataset.target && li.dataset.target !== name));
      this.renderLegend();
      this.renderIslands();
      this.draw();
      if (this.selected !== null) this.showDetails(this.selected);
    }

    collapse(groupId) {
      this.expanded.delete(groupId);
      for (const g of this.file.groups) {
        if ((this.groupAncestors.get(g.id) || []).includes(groupId)) this.expanded.delete(g.id);
      }
      this.draw();
    }

    reveal(indices) {
      for (const i of indices) for (const g of this.ancestors[i]) this.expanded.add(g);
    }

    visibleKey(i) {
      for (const g of this.ancestors[i]) if (!this.expanded.has(g)) return "g:" + g;
      return "n:" + i;
    }

    placeOf(i) { return this.current ? this.current.place[i] : -2; }

    // ------------------------------------------------------------ drawing
    draw() {
      const items = [], index = new Map(), members = [];
      this.nodes.forEach((node, i) => {
        const key = this.visibleKey(i);
        if (!index.has(key)) {
          index.set(key, items.length);
          const group = key.startsWith("g:");
          const open = [];
          for (const g of this.ancestors[i]) {
            if (!this.expanded.has(g)) break;
            open.push(g);
          }
          items.push({ key, order: i, w: group ? GROUP_W : NODE_W, h: group ? GROUP_H : NODE_H,
            cluster: open.map((g) => this.groupFirst.get(g)) });
          members.push([]);
        }
        members[index.get(key)].push(i);
      });
      const weights = new Map();
      this.nodes.forEach((node, v) => {
        for (const t of node.in) {
          const u = this.producer.get(t);
          if (u === undefined) continue;
          const a = index.get(this.visibleKey(u)), b = index.get(this.visibleKey(v));
          if (a === b) continue;
          const k = a + "," + b;
          weights.set(k, (weights.get(k) || 0) + 1);
        }
      });
      const edges = [...weights].map(([k, w]) => [...k.split(",").map(Number), w]);
      const result = layout(items, edges);
      this.size = result;
      this.items = items;
      this.members = members;
      this.itemOfKey = index;
      const svg = el("svg:svg", { class: "graph", "data-items": String(items.length) });
      const defs = el("svg:defs");
      const marker = el("svg:marker", { id: `arrow-${this.section.dataset.fileIndex}`, viewBox: "0 0 10 10",
        refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
      marker.appendChild(el("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: "#78909c" }));
      defs.appendChild(marker);
      svg.appendChild(defs);
      const arrow = `url(#${marker.id})`;
      this.drawGroupBoxes(svg, result.boxes);
      const edgeLayer = el("svg:g", { class: "edges" });
      for (const p of result.paths) {
        const path = el("svg:path", { class: "edge" + (p.weight > 2 ? " heavy" : ""), d: p.d });
        path.setAttribute(p.reversed ? "marker-start" : "marker-end", arrow);
        edgeLayer.appendChild(path);
      }
      svg.appendChild(edgeLayer);
      const nodeLayer = el("svg:g", { class: "nodes" });
      items.forEach((item, k) => nodeLayer.appendChild(
        item.key.startsWith("g:") ? this.groupNode(item.key.slice(2), members[k], result.boxes[k])
          : this.opNode(members[k][0], result.boxes[k])));
      svg.appendChild(nodeLayer);
      this.svg = svg;
      this.canvas.replaceChildren(svg);
      this.applyZoom();
      this.applyMarks();
    }

    drawGroupBoxes(svg, boxes) {
      const spans = new Map();
      this.items.forEach((item, k) => {
        const first = this.members[k][0];
        const chain = item.key.startsWith("g:")
          ? this.groupAncestors.get(item.key.slice(2)) : this.ancestors[first];
        for (const g of chain) {
          if (!this.expanded.has(g)) break;
          const b = boxes[k], s = spans.get(g);
          if (!s) spans.set(g, { x0: b.x, y0: b.y, x1: b.x + b.w, y1: b.y + b.h });
          else {
            s.x0 = Math.min(s.x0, b.x); s.y0 = Math.min(s.y0, b.y);
            s.x1 = Math.max(s.x1, b.x + b.w); s.y1 = Math.max(s.y1, b.y + b.h);
          }
        }
      });
      const layer = el("svg:g", { class: "group-boxes" });
      const byDepth = [...spans].sort((a, b) =>
        this.groupAncestors.get(a[0]).length - this.groupAncestors.get(b[0]).length);
      for (const [g, s] of byDepth) {
        const depth = this.groupAncestors.get(g).length;
        const pad = Math.max(3, BOX_PAD - 2 * depth);
        layer.appendChild(el("svg:rect", { class: "group-box", "data-group-id": g, rx: "6",
          x: s.x0 - pad, y: s.y0 - pad - 12, width: s.x1 - s.x0 + 2 * pad, height: s.y1 - s.y0 + 2 * pad + 12 }));
        const label = el("svg:text", { class: "group-box-label", "data-group-id": g,
          x: s.x0 - pad + 4, y: s.y0 - pad - 1 }, "▾ " + this.groups.get(g).label);
        label.appendChild(el("svg:title", {}, "collapse " + this.groups.get(g).title));
        layer.appendChild(label);
      }
      svg.appendChild(layer);
    }

    opNode(i, b) {
      const node = this.nodes[i];
      const [fill, stroke] = colorsOf(this.placeOf(i));
      const g = el("svg:g", { class: "node", "data-idx": String(i), "data-node-id": node.id,
        "data-op": node.op, "data-place": String(this.placeOf(i)),
        transform: `translate(${b.x.toFixed(1)},${b.y.toFixed(1)})` });
      g.appendChild(el("svg:rect", { class: "body", width: b.w, height: b.h, rx: "6", fill, stroke }));
      g.appendChild(el("svg:text", { class: "op", x: "8", y: "15" }, shorten(node.op, 21)));
      const last = (node.name || "").split(";")[0].split("/").filter(Boolean).slice(-2).join("/");
      g.appendChild(el("svg:text", { class: "sub", x: "8", y: "29" }, shorten(last || node.id, 22)));
      if (this.placeOf(i) >= 1 && this.current.partitions.length > 1) {
        g.appendChild(el("svg:text", { class: "sub", x: String(b.w - 6), y: "15", "text-anchor": "end" },
          "P" + this.placeOf(i)));
      }
      g.appendChild(el("svg:title", {}, `${node.op} ${node.name}\n${this.placeDescription(i)}`));
      return g;
    }

    groupNode(groupId, indices, b) {
      const group = this.groups.get(groupId);
      const counts = new Map();
      for (const i of indices) counts.set(this.placeOf(i), (counts.get(this.placeOf(i)) || 0) + 1);
      const cpu = counts.get(0) || 0;
      const main = [...counts].sort((a, c) => c[1] - a[1])[0][0];
      const g = el("svg:g", { class: "group-node", "data-group-id": groupId,
        "data-size": String(indices.length), "data-cpu": String(cpu),
        transform: `translate(${b.x.toFixed(1)},${b.y.toFixed(1)})` });
      const [fill, stroke] = colorsOf(cpu ? 0 : main);
      g.appendChild(el("svg:rect", { class: "body", width: b.w, height: b.h, rx: "8", fill: "#fff", stroke }));
      g.appendChild(el("svg:text", { class: "title", x: "8", y: "16" }, "▸ " + shorten(group.label, 22)));
      g.appendChild(el("svg:text", { class: "sub", x: "8", y: "30" },
        `${indices.length} ops` + (cpu ? `, ${cpu} on CPU` : "")));
      // Placement bar: the share of each partition and of the CPU inside the group.
      let x = 6;
      const width = b.w - 12;
      for (const [place, count] of [...counts].sort((a, c) => c[0] - a[0])) {
        const w = (width * count) / indices.length;
        const [f, s] = colorsOf(place);
        g.appendChild(el("svg:rect", { x: x.toFixed(1), y: String(b.h - 13), width: w.toFixed(1),
          height: "8", fill: place === 0 ? s : f, stroke: "none" }));
        x += w;
      }
      g.appendChild(el("svg:title", {}, `${group.title}: ${indices.length} ops (${opCounts(this.nodes, indices)})\nclick to expand`));
      void fill;
      return g;
    }

    placeDescription(i) {
      const t = this.current;
      if (!t) return "";
      const place = t.place[i];
      const reason = t.reasons[String(i)];
      return placeText(t, place) + (reason ? `: ${reason}` : "");
    }

    setZoom(z) {
      this.zoom = Math.max(0.1, Math.min(3, z));
      this.applyZoom();
    }

    applyZoom() {
      if (!this.svg) return;
      const { width, height } = this.size;
      this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      this.svg.setAttribute("width", String(width * this.zoom));
      this.svg.setAttribute("height", String(height * this.zoom));
    }

    applyMarks() {
      const marked = (set, cls) => {
        this.svg.querySelectorAll("." + cls).forEach((e) => e.classList.remove(cls));
        const keys = new Set([...set].map((i) => this.visibleKey(i)));
        for (const key of keys) {
          const k = this.itemOfKey.get(key);
          if (k === undefined) continue;
          const sel = key.startsWith("g:") ? `.group-node[data-group-id="${key.slice(2)}"]`
            : `.node[data-idx="${key.slice(2)}"]`;
          const node = this.svg.querySelector(sel);
          if (node) node.classList.add(cls);
        }
      };
      marked(this.highlight, "hl");
      marked(this.matches, "match");
      marked(this.selected === null ? [] : [this.selected], "sel");
    }

    scrollTo(i) {
      const k = this.itemOfKey.get(this.visibleKey(i));
      if (k === undefined) return;
      const b = this.size.boxes[k];
      this.canvas.scrollTo({
        left: Math.max(0, (b.x + b.w / 2) * this.zoom - this.canvas.clientWidth / 2),
        top: Math.max(0, (b.y + b.h / 2) * this.zoom - this.canvas.clientHeight / 2),
      });
    }

    focus(indices) {
      this.reveal(indices);
      this.draw();
      if (indices.length) this.scrollTo(indices[0]);
    }

    // ------------------------------------------------------------ side panels
    renderLegend() {
      const box = this.side.querySelector(".legend");
      box.replaceChildren();
      const t = this.current;
      if (!t) return;
      box.appendChild(el("h3", {}, `Placement on ${t.title}`));
      if (t.refused) box.appendChild(el("p", { class: "cpu" }, `Refused: ${t.refused}`));
      const list = el("ul");
      const entry = (place, label) => {
        const [fill, stroke] = colorsOf(place);
        const li = el("li", { "data-place": String(place) });
        li.appendChild(el("span", { class: "swatch", style: `background:${fill};border-color:${stroke}` }));
        li.appendChild(document.createTextNode(label));
        list.appendChild(li);
      };
      const count = (p) => t.place.filter((x) => x === p).length;
      const ops = (n) => `${n} op${n === 1 ? "" : "s"}`;
      t.partitions.slice(0, 24).forEach((size, k) =>
        entry(k + 1, t.partitions.length > 1 ? `P${k + 1}: ${ops(size)}` : `${t.title}: ${ops(size)}`));
      if (t.partitions.length > 24) list.appendChild(el("li", {}, `… ${t.partitions.length - 24} more partitions`));
      entry(0, `CPU: ${ops(count(0))}`);
      if (count(-1)) entry(-1, `removed: ${count(-1)}`);
      if (count(-2)) entry(-2, `not predicted: ${count(-2)}`);
      box.appendChild(list);
    }

    renderIslands() {
      const box = this.side.querySelector(".islands");
      box.replaceChildren();
      const t = this.current;
      if (!t || !t.islands.length) return;
      box.appendChild(el("h3", {}, `CPU islands (${t.islands.length})`));
      const list = el("ul");
      t.islands.forEach((island, k) => {
        const li = el("li", { class: "island", "data-island": String(k) });
        li.appendChild(el("b", {}, `${island.length} op${island.length > 1 ? "s" : ""}: `));
        li.appendChild(document.createTextNode(opCounts(this.nodes, island)));
        const causes = [...new Set(island.map((i) => t.reasons[String(i)]).filter(Boolean))];
        if (causes.length) li.appendChild(el("span", { class: "cause" }, causes.slice(0, 3).join("; ") + (causes.length > 3 ? " …" : "")));
        const members = new Set(island);
        this.file.findings.forEach((f, fi) => {
          if ((!f.target || f.target === t.name) && f.nodes.some((i) => members.has(i))) {
            const link = el("span", { class: "link", "data-finding": String(fi) }, f.code);
            link.addEventListener("click", (e) => { e.stopPropagation(); this.selectFinding(fi); });
            li.appendChild(link);
          }
        });
        li.addEventListener("click", () => this.selectIsland(k));
        list.appendChild(li);
      });
      box.appendChild(list);
    }

    selectIsland(k) {
      this.activeIsland = k;
      this.side.querySelectorAll(".island").forEach((li) =>
        li.classList.toggle("active", Number(li.dataset.island) === k));
      this.highlight = new Set(this.current.islands[k]);
      this.focus(this.current.islands[k]);
    }

    selectFinding(fi) {
      const finding = this.file.findings[fi];
      this.activeFinding = fi;
      if (finding.target) {
        const k = this.file.targets.findIndex((t) => t.name === finding.target);
        if (k >= 0 && k !== this.target) this.selectTarget(k);
      }
      this.section.querySelectorAll(".findings .finding").forEach((li) =>
        li.classList.toggle("active", Number(li.dataset.finding) === fi));
      this.highlight = new Set(finding.nodes);
      this.focus(finding.nodes);
      if (finding.nodes.length) this.showDetails(finding.nodes[0]);
      const li = this.section.querySelector(`.findings .finding[data-finding="${fi}"]`);
      if (li) li.scrollIntoView({ block: "nearest" });
    }

    selectNode(i) {
      this.selected = i;
      this.applyMarks();
      this.showDetails(i);
    }

    showDetails(i) {
      const node = this.nodes[i];
      const box = this.side.querySelector(".details");
      box.replaceChildren();
      box.setAttribute("data-node-id", node.id);
      box.appendChild(el("h4", {}, `${node.op}`));
      const table = el("table");
      const row = (k, v, cls) => {
        const tr = el("tr");
        tr.appendChild(el("th", {}, k));
        tr.appendChild(el("td", cls ? { class: cls } : {}, v));
        table.appendChild(tr);
      };
      if (node.index !== null) {
        row("op", `subgraph ${node.sg}${this.file.subgraphs[node.sg] ? ` (${this.file.subgraphs[node.sg]})` : ""}, index ${node.index}`);
      }
      row("name", node.name || "—");
      if (node.layer) row("layer", node.layer);
      if (node.origin !== "builtin") row("origin", node.origin);
      if (node.group) row("group", this.ancestors[i].map((g) => this.groups.get(g).label).join(" › "));
      for (const t of this.file.targets) {
        const place = t.place[i];
        const reason = t.reasons[String(i)];
        row(t.title, placeText(t, place) + (reason ? ` — ${reason}` : ""), place === 0 ? "cpu" : "");
      }
      const tensors = (list) => list.map((ti) => {
        const [name, dtype, shape, constant] = this.file.tensors[ti];
        return `${name} ${dtype || ""}${shape}${constant ? " const" : ""}`;
      }).join("\n");
      row("inputs", tensors(node.in));
      row("outputs", tensors(node.out));
      box.appendChild(table);
      const findings = this.file.findings.map((f, fi) => [f, fi]).filter(([f]) => f.nodes.includes(i));
      box.appendChild(el("h4", {}, `Findings on this op (${findings.length})`));
      const list = el("ul", { class: "node-findings" });
      for (const [f, fi] of findings) {
        const li = el("li");
        const link = el("span", { class: "link", "data-finding": String(fi) }, f.code);
        link.addEventListener("click", () => this.selectFinding(fi));
        li.appendChild(link);
        li.appendChild(document.createTextNode(f.message));
        list.appendChild(li);
      }
      box.appendChild(list);
    }

    // ------------------------------------------------------------ search
    search(text) {
      const q = text.trim().toLowerCase();
      this.matches = new Set();
      if (q) {
        this.nodes.forEach((node, i) => {
          const names = [node.op, node.name, node.layer || "", node.id,
            ...node.in.concat(node.out).map((t) => this.file.tensors[t][0])];
          if (names.some((n) => n && n.toLowerCase().includes(q))) this.matches.add(i);
        });
      }
      this.matchCursor = -1;
      const count = this.section.querySelector(".match-count");
      count.textContent = q ? `${this.matches.size} match${this.matches.size === 1 ? "" : "es"}` : "";
      count.dataset.matches = String(this.matches.size);
      this.applyMarks();
    }

    nextMatch() {
      if (!this.matches.size) return;
      const list = [...this.matches];
      this.matchCursor = (this.matchCursor + 1) % list.length;
      const i = list[this.matchCursor];
      this.selected = i;
      this.focus([i]);
      this.showDetails(i);
    }
  }

  // ---------------------------------------------------------------- page
  const sections = [...document.querySelectorAll("section.file")];
  const views = new Map();
  function showFile(k) {
    sections.forEach((s, i) => { s.hidden = i !== k; });
    document.querySelectorAll(".file-tab").forEach((tab, i) => tab.classList.toggle("active", i === k));
    const file = DATA.files[k];
    if (!views.has(k) && !file.error && file.nodes.length) {
      views.set(k, new FileView(sections[k], file));
    }
    document.body.dataset.activeFile = String(k);
  }
  document.querySelectorAll(".file-tab").forEach((tab) =>
    tab.addEventListener("click", () => showFile(Number(tab.dataset.fileIndex))));
  const picker = document.querySelector(".file-select");
  if (picker) picker.addEventListener("change", () => showFile(Number(picker.value)));
  window.tflintReport = { views, showFile };
  if (sections.length) showFile(0);
  document.body.dataset.ready = "1";
})();
