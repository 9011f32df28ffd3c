"""The site's stylesheet and script, inlined into every page so a page works from ``file://`` and any
static host without fetching anything (no CDN, no fetch() of local files, which file:// forbids)."""

from __future__ import annotations

CSS = """
:root{--line:#d9d9d9;--head:#f3f4f6;--muted:#666;--accent:#1f5fa8}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d1d1f;line-height:1.4}
header.top{background:#1f2a37;color:#fff;padding:.6em 1.2em}header.top a{color:#cfe3ff;margin-right:1em}
main{max-width:1500px;margin:0 auto;padding:.5em 1.2em 3em}
h1{font-size:1.6em;margin:.4em 0}h2{margin-top:1.6em;border-bottom:1px solid var(--line);padding-bottom:.2em}
h3{margin:1em 0 .3em}.meta,.legend{color:var(--muted);font-size:13px}.legend dt{font-weight:600;color:#333}
.legend dd{margin:0 0 .4em 1em}a{color:var(--accent)}
table{border-collapse:separate;border-spacing:0;font-size:13px;margin:.4em 0 1em}
th,td{border-right:1px solid var(--line);border-bottom:1px solid var(--line);padding:3px 7px;text-align:right;white-space:nowrap;background:#fff}
thead th{background:var(--head);position:sticky;top:0;z-index:2}thead tr:first-child th{border-top:1px solid var(--line)}
th.grp{text-align:center;font-weight:600}th.metric{cursor:pointer;user-select:none}
th:first-child,td:first-child{position:sticky;left:0;z-index:1;text-align:left;border-left:1px solid var(--line);background:#fafafa}
thead th:first-child{z-index:3}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
th.gstart,td.gstart{border-left:2px solid #8a94a6}td.best{font-weight:700}td.failed{color:#a00;text-align:left}.ci,.n{color:#777;font-size:11px}
tr.submitted td{background:#fff8e6}tr.submitted td:first-child{background:#ffefc2}
.wrap{overflow:auto;max-width:100%;max-height:80vh}
.chooser{font-size:13px;margin:.3em 0}.chooser label{margin-right:1em}
table.overview td{text-align:center;min-width:8em}table.overview td:first-child{text-align:left;min-width:0}table.overview td .rk{font-weight:600;font-size:14px}
td.lown{outline:2px dashed #d08000;outline-offset:-3px}.flag{color:#b06000;font-size:11px}
img.plot{max-width:100%;border:1px solid #eee;margin:4px 0}
table.versions td,table.versions th{text-align:left;vertical-align:top}table.versions td:nth-child(3){white-space:normal;min-width:24em}
.changelog{background:#f7f9fc;border-left:3px solid var(--accent);padding:.3em 1em;font-size:14px}
"""

# Hand-written: a sorter and a group toggle are a few lines each, and the page must fetch nothing.
JS = """
window.xrecErrors=[];window.addEventListener('error',e=>{window.xrecErrors.push(String(e.message));
  document.body.dataset.jsErrors=String(window.xrecErrors.length);});
function sortBy(th){
  const table=th.closest('table'),body=table.tBodies[0],idx=Number(th.dataset.col);
  const asc=!th.classList.contains('sorted-asc');
  table.querySelectorAll('th.metric').forEach(h=>h.classList.remove('sorted-asc','sorted-desc'));
  th.classList.add(asc?'sorted-asc':'sorted-desc');
  const key=r=>{const c=r.children[idx];const v=c?c.dataset.value:undefined;
    return v===undefined||v===''?(c?c.textContent:''):parseFloat(v);};
  [...body.rows].sort((a,b)=>{const x=key(a),y=key(b);
    if(typeof x==='number'&&typeof y==='number'){if(isNaN(x))return 1;if(isNaN(y))return -1;return asc?x-y:y-x;}
    return asc?String(x).localeCompare(String(y)):String(y).localeCompare(String(x));}).forEach(r=>body.appendChild(r));
}
document.querySelectorAll('table.board').forEach(t=>{
  t.querySelectorAll('th.metric').forEach(th=>th.addEventListener('click',()=>sortBy(th)));
  t.dataset.ready='true';
});
document.querySelectorAll('.chooser input[data-group]').forEach(box=>box.addEventListener('change',()=>{
  const table=document.getElementById(box.dataset.table);
  table.querySelectorAll('.g-'+box.dataset.group).forEach(c=>{c.style.display=box.checked?'':'none';});
}));
window.addEventListener('load',()=>{
  document.querySelectorAll('img.plot').forEach(i=>{i.dataset.naturalWidth=i.naturalWidth;});
  document.body.dataset.ready='true';
});
"""
