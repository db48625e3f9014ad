/**
 * The dashboard page: one self-contained HTML document (CSS and JavaScript inline, charts as inline
 * SVG, no CDN, no build step), so it works on an air-gapped operations network.
 *
 * The script loads `/api/events` (a snapshot, then deltas), keeps the score histories itself, and
 * redraws at most once per animation frame. Every text that came from the network goes through
 * `esc()` before it reaches innerHTML. Stable `data-*` attributes (`data-node`, `data-shard`,
 * `data-timeline-kind`, `data-incident`) are for the browser test and for operators' own tooling.
 */

const STYLE = String.raw`
:root{--bg:#0d1117;--panel:#161b22;--panel2:#1c2230;--line:#30363d;--text:#e6edf3;--muted:#8b949e;
--ok:#3fb950;--watch:#d29922;--warn:#f0883e;--risk:#f85149;--accent:#58a6ff;--shadow:#a371f7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
.num,code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-variant-numeric:tabular-nums}
header{display:flex;align-items:center;gap:14px;flex-wrap:wrap;padding:12px 20px;border-bottom:1px solid var(--line);background:#0b0f14}
header h1{font-size:17px;margin:0;font-weight:650;letter-spacing:.2px}
header h1 span{color:var(--muted);font-weight:400}
.pill{display:inline-flex;align-items:center;gap:6px;padding:2px 10px;border:1px solid var(--line);border-radius:999px;font-size:12px;color:var(--muted);white-space:nowrap}
.pill b{color:var(--text);font-weight:600}
.dot{width:8px;height:8px;border-radius:50%;display:inline-block;background:var(--muted);flex:none}
.dot.ok{background:var(--ok)}.dot.warn{background:var(--watch)}.dot.bad{background:var(--risk)}
.spacer{flex:1}
main{display:grid;grid-template-columns:minmax(0,1.15fr) minmax(0,1fr);gap:16px;padding:16px 20px;max-width:1800px;margin:0 auto}
section{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:13px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);font-weight:600;display:flex;gap:10px;align-items:baseline}
h2 small{text-transform:none;letter-spacing:0;font-weight:400}
.nodes{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px}
.node{background:var(--panel2);border:1px solid var(--line);border-left:4px solid var(--muted);border-radius:8px;padding:10px 12px;cursor:pointer}
.node.sel,.shard.sel{outline:2px solid var(--accent);outline-offset:-1px}
.node .top{display:flex;align-items:center;gap:8px}
.node .id{font-weight:650;font-size:15px}
.node .score{margin-left:auto;font-size:20px;font-weight:650}
.node .meta{color:var(--muted);font-size:12px;margin:2px 0 4px}
.node .driver{font-size:12px;color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.node .roles{display:flex;flex-wrap:wrap;gap:3px;margin-top:6px}
.chip{font-size:11px;padding:0 5px;border-radius:4px;border:1px solid var(--line);color:var(--muted)}
.chip.p{background:#1f6feb33;border-color:#1f6feb;color:#cfe3ff}
.chip.s{border-style:dashed}
.badge{font-size:11px;padding:1px 7px;border-radius:4px;background:#30363d;color:var(--text);white-space:nowrap}
.badge.online{background:#23863633;color:#7ee787}.badge.offline{background:#da363333;color:#ffa198}.badge.unknown,.badge.stale{background:#9e6a0333;color:#e3b341}
.badge.paused{background:#9e6a0333;color:#e3b341}.badge.unavailable{background:#da363333;color:#ffa198}
.badge.completed{background:#23863633;color:#7ee787}.badge.in-progress{background:#1f6feb33;color:#a5d6ff}.badge.aborted,.badge.failed{background:#da363333;color:#ffa198}
.shards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.shard{background:var(--panel2);border:1px solid var(--line);border-top:3px solid var(--muted);border-radius:7px;padding:7px 9px;cursor:pointer;min-width:0}
.shard .top{display:flex;align-items:baseline;gap:6px}
.shard .sid{font-weight:650}
.shard .ep{color:var(--muted);font-size:12px}
.shard .score{margin-left:auto;font-weight:650}
.shard .who{font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.shard .who .sh{color:var(--shadow)}
.muted{color:var(--muted)}
svg text{fill:var(--muted);font:11px ui-monospace,Menlo,Consolas,monospace}
.focus h3{margin:0 0 2px;font-size:16px}
.focus .sub{color:var(--muted);font-size:12px;margin-bottom:8px}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th{color:var(--muted);font-weight:500;text-align:left;padding:4px 6px;border-bottom:1px solid var(--line)}
td{padding:4px 6px;border-bottom:1px solid #21262d;white-space:nowrap}
td.r,th.r{text-align:right}
.share{display:inline-block;height:6px;border-radius:3px;background:var(--accent);vertical-align:middle;margin-right:6px}
details.incident{background:var(--panel2);border:1px solid var(--line);border-radius:8px;margin-bottom:8px}
details.incident summary{cursor:pointer;padding:8px 12px;display:flex;flex-wrap:wrap;gap:8px;align-items:center;list-style:none}
details.incident summary::-webkit-details-marker{display:none}
details.incident summary:before{content:"▸";color:var(--muted)}
details.incident[open] summary:before{content:"▾"}
details.incident .body{padding:4px 14px 12px;display:grid;gap:10px}
.events{list-style:none;margin:0;padding:0;font-size:12.5px}
.events li{display:flex;gap:10px;padding:2px 0}
.events .t{color:var(--muted);min-width:78px;text-align:right}
.tl{list-style:none;padding:0;margin:8px 0 0;max-height:340px;overflow:auto}
.tl li{display:grid;grid-template-columns:78px 70px 64px 1fr;gap:8px;padding:4px 2px;border-bottom:1px solid #21262d;font-size:12.5px;align-items:center}
.k-switch{color:var(--risk);font-weight:600}.k-epoch{color:var(--warn)}.k-writes{color:var(--watch)}.k-incident{color:var(--accent)}
.empty{color:var(--muted);font-style:italic;padding:10px 0}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-top:4px;flex-wrap:wrap}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}
@media (max-width:1100px){main{grid-template-columns:1fr}}
`;

const SCRIPT = String.raw`
"use strict";
var MAX_POINTS = 600, STALE_MS = 10000, SWITCH_P = 0.8, PREREP_P = 0.5;
var S = null, H = {nodes:{}, shards:{}}, clockOffset = 0, focus = null, live = false, openIncidents = {}, dirty = false;
function $(id){return document.getElementById(id)}
function esc(v){return String(v).replace(/[&<>"']/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]})}
function riskColor(p){if(p==null)return "var(--muted)";return p>=SWITCH_P?"var(--risk)":p>=PREREP_P?"var(--warn)":p>=0.3?"var(--watch)":"var(--ok)"}
function fmtP(p){return p==null?"–":p.toFixed(2)}
function fmtN(v){if(v==null||!isFinite(v))return "–";var a=Math.abs(v);return a>=1e6?(v/1e6).toFixed(1)+"M":a>=1e3?(v/1e3).toFixed(1)+"k":a>=100?v.toFixed(0):a>=10?v.toFixed(1):v.toFixed(2)}
function fmtT(ts){var d=new Date(ts);return d.toLocaleTimeString([], {hour12:false})}
function now(){return Date.now()+clockOffset}
function merge(target, points){
  for (var id in points){var list=target[id]||(target[id]=[]);var last=list.length?list[list.length-1].rev:-1;
    points[id].forEach(function(p){if(p.rev>last){list.push(p);last=p.rev}});
    if(list.length>MAX_POINTS)list.splice(0,list.length-MAX_POINTS)}
}
function onSnapshot(e){var d=JSON.parse(e.data);H={nodes:d.history.nodes,shards:d.history.shards};delete d.history;S=d;clockOffset=d.now-Date.now();schedule()}
function onDelta(e){var d=JSON.parse(e.data);merge(H.nodes,d.points.nodes);merge(H.shards,d.points.shards);delete d.points;S=d;clockOffset=d.now-Date.now();schedule()}
function schedule(){if(!dirty){dirty=true;requestAnimationFrame(function(){dirty=false;render()})}}
function connect(){
  var es=new EventSource("api/events");
  es.addEventListener("snapshot",function(e){live=true;onSnapshot(e)});
  es.addEventListener("delta",onDelta);
  es.onerror=function(){live=false;schedule()};
}
function nodeRoles(){var r={};(S.shards||[]).forEach(function(s){if(s.primary){(r[s.primary]=r[s.primary]||{p:[],s:[]}).p.push(s.id)}s.shadows.forEach(function(n){(r[n]=r[n]||{p:[],s:[]}).s.push(s.id)})});return r}
function nodeStatus(n){if(n.state==="online"&&n.lastSeen!=null&&now()-n.lastSeen>STALE_MS)return "stale";return n.state}

function spark(points, w, h){
  if(!points||points.length<2)return '<svg width="'+w+'" height="'+h+'"></svg>';
  var t0=points[0].ts,t1=points[points.length-1].ts||t0+1,span=Math.max(1,t1-t0),d="";
  points.forEach(function(p,i){d+=(i?"L":"M")+((p.ts-t0)/span*w).toFixed(1)+","+(h-1-p.p*(h-2)).toFixed(1)});
  var last=points[points.length-1];
  return '<svg width="100%" height="'+h+'" viewBox="0 0 '+w+' '+h+'" preserveAspectRatio="none"><line x1="0" x2="'+w+'" y1="'+(h-1-SWITCH_P*(h-2))+'" y2="'+(h-1-SWITCH_P*(h-2))+'" stroke="#f8514955" stroke-dasharray="3 3"/><path d="'+d+'" fill="none" stroke="'+riskColor(last.p)+'" stroke-width="1.6" vector-effect="non-scaling-stroke"/></svg>';
}
function driverText(top){if(!top||!top.length)return '<span class="muted">no drivers reported</span>';var t=top[0];
  return esc(t.series)+' <span class="num">'+fmtN(t.value)+' → '+fmtN(t.forecast)+'</span>'+aheadText(t)+' <span class="muted">/ '+fmtN(t.threshold)+'</span>'}
function aheadText(t){return t.forecastS==null?'':' <span class="muted">in '+fmtN(t.forecastS)+' s</span>'}

function renderHeader(){
  var c=S.coordinator, online=S.nodes.filter(function(n){return nodeStatus(n)==="online"}).length;
  var paused=S.shards.filter(function(s){return s.writes!=="open"}).length;
  var atRisk=S.shards.filter(function(s){return s.score&&s.score.p>=SWITCH_P}).length;
  var coord=c?(c.state==="online"?'<span class="dot ok"></span>coordinator <b>'+esc(c.automation||"running")+'</b>':'<span class="dot bad"></span>coordinator <b>offline</b>'):'<span class="dot"></span>coordinator <b>unknown</b>';
  $("cluster").textContent=S.cluster;
  $("pills").innerHTML=
    '<span class="pill" id="conn"><span class="dot '+(live&&S.connected?"ok":live?"warn":"bad")+'"></span>'+(live?(S.connected?"live":"broker disconnected"):"reconnecting…")+'</span>'+
    '<span class="pill">'+coord+'</span>'+
    '<span class="pill">nodes <b>'+online+'/'+S.nodes.length+'</b> online</span>'+
    '<span class="pill">shards <b>'+S.shards.length+'</b>'+(paused?' · <b style="color:var(--watch)">'+paused+' not open</b>':'')+'</span>'+
    '<span class="pill">at risk <b style="color:'+(atRisk?"var(--risk)":"var(--ok)")+'">'+atRisk+'</b></span>'+
    '<span class="pill">routing <b>v'+(S.routing?S.routing.version:"–")+'</b></span>'+
    '<span class="pill" title="payloads that failed size or schema checks">dropped <b>'+S.drops.total+'</b></span>';
}
function renderNodes(){
  var roles=nodeRoles();
  if(!S.nodes.length){$("nodes").innerHTML='<div class="empty">No nodes yet: waiting for births on node/+/state.</div>';return}
  $("nodes").innerHTML=S.nodes.map(function(n){
    var st=nodeStatus(n), p=n.score?n.score.p:null, r=roles[n.id]||{p:[],s:[]};
    var sel=focus&&focus.kind==="node"&&focus.id===n.id?" sel":"";
    var chips=r.p.map(function(id){return '<span class="chip p" title="primary of shard '+id+'">'+id+'</span>'}).join("")+r.s.map(function(id){return '<span class="chip s" title="shadow of shard '+id+'">'+id+'</span>'}).join("");
    return '<div class="node'+sel+'" data-node="'+esc(n.id)+'" data-state="'+st+'" style="border-left-color:'+(st==="online"?riskColor(p):st==="offline"?"var(--risk)":"var(--watch)")+'">'+
      '<div class="top"><span class="id">'+esc(n.id)+'</span><span class="badge '+st+'">'+st+'</span><span class="score num" style="color:'+riskColor(p)+'" title="failure probability within the horizon">'+fmtP(p)+'</span></div>'+
      '<div class="meta">'+esc(n.profile||"profile ?")+' · '+r.p.length+' primary · '+r.s.length+' shadow</div>'+
      spark(H.nodes[n.id],220,34)+
      '<div class="driver">'+driverText(n.score&&n.score.top)+'</div>'+
      '<div class="roles">'+chips+'</div></div>';
  }).join("");
}
function renderShards(){
  if(!S.shards.length){$("shards").innerHTML='<div class="empty">No routing table yet.</div>';return}
  $("shards").innerHTML=S.shards.map(function(s){
    var p=s.score?s.score.p:null, sel=focus&&focus.kind==="shard"&&focus.id===s.id?" sel":"";
    var lag=Object.keys(s.lags).map(function(n){return esc(n)+" "+fmtN(s.lags[n])+"ms"}).join(", ");
    return '<div class="shard'+sel+'" data-shard="'+s.id+'" data-primary="'+esc(s.primary||"")+'" data-epoch="'+s.epoch+'" style="border-top-color:'+riskColor(p)+'"'+(lag?' title="replication lag: '+lag+'"':'')+'>'+
      '<div class="top"><span class="sid">#'+s.id+'</span><span class="ep num">e'+s.epoch+'</span>'+(s.writes!=="open"?'<span class="badge '+s.writes+'">'+s.writes+'</span>':'')+'<span class="score num" style="color:'+riskColor(p)+'">'+fmtP(p)+'</span></div>'+
      '<div class="who"><b>'+esc(s.primary||"none")+'</b> <span class="sh">→ '+(s.shadows.map(esc).join(", ")||"no shadow")+'</span></div>'+
      spark(H.shards[String(s.id)],140,22)+'</div>';
  }).join("");
}
`;

const SCRIPT_CHARTS = String.raw`
function axisTime(x0,x1,t0,t1,y,ticks){var out="";for(var i=0;i<=ticks;i++){var t=t0+(t1-t0)*i/ticks,x=x0+(x1-x0)*i/ticks;out+='<text x="'+x.toFixed(0)+'" y="'+y+'" text-anchor="'+(i===0?"start":i===ticks?"end":"middle")+'">'+fmtT(t)+'</text>'}return out}
function scoreChart(points, switches){
  var W=640,Hh=190,L=34,R=10,T=10,B=22,w=W-L-R,h=Hh-T-B;
  if(!points||points.length<2)return '<div class="empty">Waiting for scores…</div>';
  var t1=now(),t0=Math.min(points[0].ts,t1-60000),span=Math.max(1,t1-t0);
  var X=function(t){return L+(t-t0)/span*w},Y=function(p){return T+(1-p)*h};
  var line="",area="";points.forEach(function(p,i){line+=(i?"L":"M")+X(p.ts).toFixed(1)+","+Y(p.p).toFixed(1)});
  area=line+"L"+X(points[points.length-1].ts).toFixed(1)+","+Y(0)+"L"+X(points[0].ts).toFixed(1)+","+Y(0)+"Z";
  var grid=[0,0.25,0.5,0.75,1].map(function(v){return '<line x1="'+L+'" x2="'+(W-R)+'" y1="'+Y(v)+'" y2="'+Y(v)+'" stroke="#21262d"/><text x="'+(L-6)+'" y="'+(Y(v)+4)+'" text-anchor="end">'+v.toFixed(2)+'</text>'}).join("");
  var marks=(switches||[]).filter(function(e){return e.ts>=t0}).map(function(e){var x=X(e.ts).toFixed(1);return '<line x1="'+x+'" x2="'+x+'" y1="'+T+'" y2="'+(T+h)+'" stroke="var(--accent)" stroke-dasharray="4 3"/><text x="'+(+x+4)+'" y="'+(T+12)+'" style="fill:var(--accent)">'+esc(e.toNode||"")+' e'+e.toEpoch+'</text>'}).join("");
  var last=points[points.length-1];
  return '<svg width="100%" viewBox="0 0 '+W+' '+Hh+'">'+grid+
    '<line x1="'+L+'" x2="'+(W-R)+'" y1="'+Y(SWITCH_P)+'" y2="'+Y(SWITCH_P)+'" stroke="var(--risk)" stroke-dasharray="5 4" opacity=".8"/><text x="'+(W-R-2)+'" y="'+(Y(SWITCH_P)-4)+'" text-anchor="end" style="fill:var(--risk)">switch '+SWITCH_P+'</text>'+
    '<line x1="'+L+'" x2="'+(W-R)+'" y1="'+Y(PREREP_P)+'" y2="'+Y(PREREP_P)+'" stroke="var(--warn)" stroke-dasharray="2 4" opacity=".7"/><text x="'+(W-R-2)+'" y="'+(Y(PREREP_P)-4)+'" text-anchor="end" style="fill:var(--warn)">pre-replicate '+PREREP_P+'</text>'+
    '<path d="'+area+'" fill="'+riskColor(last.p)+'" opacity=".12"/><path d="'+line+'" fill="none" stroke="'+riskColor(last.p)+'" stroke-width="2"/>'+marks+
    '<circle cx="'+X(last.ts)+'" cy="'+Y(last.p)+'" r="3.5" fill="'+riskColor(last.p)+'"/>'+axisTime(L,W-R,t0,t1,Hh-6,4)+'</svg>';
}
function driverChart(points, horizonS){
  var W=640,Hh=190,L=46,R=10,T=10,B=22,w=W-L-R,h=Hh-T-B;
  if(!points||!points.length)return '<div class="empty">No driver series reported yet.</div>';
  var series=points[points.length-1].series; if(!series)return '<div class="empty">The latest score names no driver.</div>';
  var pts=points.filter(function(p){return p.series===series}), last=pts[pts.length-1], hz=(horizonS||60)*1000;
  var ahead=last.forecastS!=null?last.forecastS*1000:hz;
  var t0=Math.min(pts[0].ts,last.ts-60000),t1=last.ts+hz,span=Math.max(1,t1-t0);
  var vals=[last.threshold,last.lower,last.upper,last.forecast];pts.forEach(function(p){vals.push(p.value)});
  var lo=Math.min.apply(null,vals),hi=Math.max.apply(null,vals);if(hi-lo<1e-9){hi=lo+1}var pad=(hi-lo)*0.08,nonNegative=lo>=0;lo-=pad;hi+=pad;if(nonNegative&&lo<0)lo=0;
  var X=function(t){return L+(t-t0)/span*w},Y=function(v){return T+(hi-v)/(hi-lo)*h};
  var line="";pts.forEach(function(p,i){line+=(i?"L":"M")+X(p.ts).toFixed(1)+","+Y(p.value).toFixed(1)});
  var xl=X(last.ts),xf=X(last.ts+ahead);
  var cone='<path d="M'+xl+','+Y(last.value)+'L'+xf+','+Y(last.upper)+'L'+xf+','+Y(last.lower)+'Z" fill="var(--accent)" opacity=".18"/>'+
    '<line x1="'+xl+'" y1="'+Y(last.value)+'" x2="'+xf+'" y2="'+Y(last.forecast)+'" stroke="var(--accent)" stroke-width="2" stroke-dasharray="6 4"/>'+
    '<line x1="'+xf+'" x2="'+xf+'" y1="'+Y(last.upper)+'" y2="'+Y(last.lower)+'" stroke="var(--accent)" stroke-width="2"/>'+
    '<circle cx="'+xf+'" cy="'+Y(last.forecast)+'" r="4" fill="var(--accent)"/>';
  var ticks=[0,1,2,3,4].map(function(i){var v=lo+(hi-lo)*i/4;return '<line x1="'+L+'" x2="'+(W-R)+'" y1="'+Y(v)+'" y2="'+Y(v)+'" stroke="#21262d"/><text x="'+(L-6)+'" y="'+(Y(v)+4)+'" text-anchor="end">'+fmtN(v)+'</text>'}).join("");
  var breach=(last.forecast>=last.threshold)||(last.upper>=last.threshold);
  return '<svg width="100%" viewBox="0 0 '+W+' '+Hh+'">'+ticks+
    '<rect x="'+xl+'" y="'+T+'" width="'+(xf-xl)+'" height="'+h+'" fill="#58a6ff0a"/><text x="'+(xl+4)+'" y="'+(T+12)+'" style="fill:var(--accent)">forecast +'+fmtN(ahead/1000)+'s</text>'+
    '<line x1="'+L+'" x2="'+(W-R)+'" y1="'+Y(last.threshold)+'" y2="'+Y(last.threshold)+'" stroke="var(--risk)" stroke-dasharray="5 4"/><text x="'+(L+4)+'" y="'+(Y(last.threshold)-4)+'" style="fill:var(--risk)">SLO '+fmtN(last.threshold)+'</text>'+
    cone+'<path d="'+line+'" fill="none" stroke="'+(breach?"var(--warn)":"var(--ok)")+'" stroke-width="2"/>'+axisTime(L,W-R,t0,t1,Hh-6,4)+'</svg>'+
    '<div class="legend"><span><i style="background:'+(breach?"var(--warn)":"var(--ok)")+'"></i>'+esc(series)+' (observed)</span><span><i style="background:var(--accent)"></i>forecast '+fmtN(last.forecast)+' [ '+fmtN(last.lower)+' – '+fmtN(last.upper)+' ]</span><span><i style="background:var(--risk)"></i>threshold '+fmtN(last.threshold)+'</span></div>';
}
function driversTable(top){
  if(!top||!top.length)return '<div class="empty">No drivers.</div>';
  return '<table><tr><th>series</th><th class="r">value</th><th class="r">forecast</th><th class="r">interval</th><th class="r">threshold</th><th>share</th></tr>'+top.map(function(t){
    var hot=(t.direction==="below")?t.forecast<=t.threshold:t.forecast>=t.threshold;
    return '<tr><td>'+esc(t.series)+'</td><td class="r num">'+fmtN(t.value)+'</td><td class="r num" style="color:'+(hot?"var(--risk)":"inherit")+'">'+fmtN(t.forecast)+aheadText(t)+'</td><td class="r num muted">'+fmtN(t.lower)+' – '+fmtN(t.upper)+'</td><td class="r num">'+(t.direction==="below"?"≤ ":"")+fmtN(t.threshold)+'</td><td><span class="share" style="width:'+Math.round(t.share*80)+'px"></span><span class="num">'+Math.round(t.share*100)+'%</span></td></tr>'}).join("")+'</table>';
}
function pickFocus(){
  if(focus){if(focus.kind==="node"&&S.nodes.some(function(n){return n.id===focus.id}))return;if(focus.kind==="shard"&&S.shards.some(function(s){return s.id===focus.id}))return;if(focus.pinned)focus=null}
  var best=null;S.shards.forEach(function(s){if(s.score&&(!best||s.score.p>best.score.p))best=s});
  if(best){focus={kind:"shard",id:best.id};return}
  if(S.nodes.length)focus={kind:"node",id:S.nodes[0].id};
}
function renderFocus(){
  pickFocus();var el=$("focus");
  if(!focus){el.innerHTML='<div class="empty">Nothing to chart yet.</div>';return}
  var title,sub,points,top,horizon=60,switches=[];
  if(focus.kind==="shard"){var s=S.shards.find(function(x){return x.id===focus.id});points=H.shards[String(s.id)];top=s.score&&s.score.top;
    title="Shard "+s.id+" · rollback score";sub="primary <b>"+esc(s.primary||"none")+"</b> · shadows "+(s.shadows.map(esc).join(", ")||"none")+" · epoch "+s.epoch+" · writes "+esc(s.writes)+(s.score?" · reported by "+esc(s.score.node):"");
    switches=S.timeline.filter(function(e){return e.kind==="switch"&&e.shard===s.id});
    var owner=S.nodes.find(function(n){return s.score&&n.id===s.score.node});if(owner&&owner.score)horizon=owner.score.horizonS}
  else{var n=S.nodes.find(function(x){return x.id===focus.id});points=H.nodes[n.id];top=n.score&&n.score.top;horizon=n.score?n.score.horizonS:60;
    title="Node "+n.id+" · failure probability";sub=esc(nodeStatus(n))+" · "+esc(n.profile||"")+" · "+esc(n.dataUrl||"")+(n.version?" · v"+esc(n.version):"")}
  el.innerHTML='<h3>'+esc(title)+'</h3><div class="sub">'+sub+' · <span class="muted">click a node or shard to chart it</span></div>'+scoreChart(points,switches)+
    '<h2 style="margin-top:12px">Top driver <small>observed, forecast at the horizon, prediction interval, SLO threshold</small></h2>'+driverChart(points,horizon)+
    '<h2 style="margin-top:12px">Explanation</h2>'+driversTable(top);
}
`;

const SCRIPT_EVENTS = String.raw`
function relMs(ms){return (ms>=0?"+":"")+(Math.abs(ms)>=10000?(ms/1000).toFixed(1)+" s":Math.round(ms)+" ms")}
function renderIncidents(){
  var el=$("incidents");
  if(!S.incidents.length){el.innerHTML='<div class="empty">No incidents. Switches, failovers and pre-replications appear here with their root cause.</div>';return}
  el.innerHTML=S.incidents.slice(0,50).map(function(i){
    var sc=i.rootCause.score, moved=i.fromNode||i.toNode, scores=i.scores.map(function(x){return {ts:x.ts,p:x.p}});
    return '<details class="incident" data-incident="'+esc(i.id)+'"'+(openIncidents[i.id]?" open":"")+'><summary>'+
      '<span class="badge">'+esc(i.kind)+'</span><span class="badge '+esc(i.outcome)+'">'+esc(i.outcome)+'</span>'+
      (i.shard!=null?'<b>shard '+i.shard+'</b>':'')+(moved?'<span>'+esc(i.fromNode||"?")+' → '+esc(i.toNode||"?")+'</span>':'')+
      (i.fromEpoch!=null?'<span class="muted num">e'+i.fromEpoch+(i.toEpoch!=null?'→e'+i.toEpoch:'')+'</span>':'')+
      (sc!=null?'<span class="num" style="color:'+riskColor(sc)+'">score '+fmtP(sc)+'</span>':'')+
      '<span class="spacer"></span><span class="muted num">'+fmtT(i.ts)+'</span></summary><div class="body">'+
      '<div>'+esc(i.rootCause.summary)+(i.lastLsn!=null?' <span class="muted">· last lsn '+i.lastLsn+'</span>':'')+'</div>'+
      (scores.length>1?'<div><div class="muted" style="font-size:12px">score before the incident</div>'+spark(scores,600,40)+'</div>':'')+
      driversTable(i.rootCause.top)+
      '<ul class="events">'+i.timeline.map(function(e){return '<li><span class="t num">'+relMs(e.ts-i.ts)+'</span><b>'+esc(e.event)+'</b><span class="muted">'+esc(e.detail||"")+'</span></li>'}).join("")+'</ul></div></details>';
  }).join("");
  el.querySelectorAll("details").forEach(function(d){d.addEventListener("toggle",function(){openIncidents[d.getAttribute("data-incident")]=d.open})});
}
function renderTimeline(){
  var el=$("timeline"),list=S.timeline;
  if(!list.length){$("timeline-strip").innerHTML="";el.innerHTML='<div class="empty">No switches seen since the dashboard started.</div>';return}
  var W=1000,Hh=46,t1=now(),t0=t1-15*60000,X=function(t){return 8+(t-t0)/(t1-t0)*(W-16)};
  var y={switch:14,epoch:14,writes:26,incident:36};
  var marks=list.filter(function(e){return e.ts>=t0}).map(function(e){var x=X(e.ts).toFixed(1);
    var c=e.kind==="switch"?"var(--risk)":e.kind==="epoch"?"var(--warn)":e.kind==="writes"?"var(--watch)":"var(--accent)";
    return e.kind==="switch"?'<path d="M'+x+','+(y.switch-6)+'l6,6l-6,6l-6,-6z" fill="'+c+'"><title>'+esc(e.detail)+'</title></path>':'<circle cx="'+x+'" cy="'+y[e.kind]+'" r="3.5" fill="'+c+'"><title>'+esc(e.detail)+'</title></circle>'}).join("");
  $("timeline-strip").innerHTML='<svg width="100%" viewBox="0 0 '+W+' '+(Hh+14)+'" preserveAspectRatio="none"><line x1="8" x2="'+(W-8)+'" y1="'+Hh+'" y2="'+Hh+'" stroke="var(--line)"/>'+marks+axisTime(8,W-8,t0,t1,Hh+12,5)+'</svg>';
  el.innerHTML=list.slice(0,80).map(function(e){
    return '<li data-timeline-kind="'+e.kind+'" data-shard="'+(e.shard==null?"":e.shard)+'"><span class="muted num">'+fmtT(e.ts)+'</span><span class="k-'+e.kind+'">'+e.kind+'</span><span class="num">'+(e.shard==null?"":"shard "+e.shard)+'</span><span>'+esc(e.detail)+'</span></li>'}).join("");
}
function render(){
  if(!S)return;
  renderHeader();renderNodes();renderShards();renderFocus();renderIncidents();renderTimeline();
  $("updated").textContent="updated "+fmtT(now());
}
document.addEventListener("click",function(e){
  var t=e.target.closest("[data-node],[data-shard]");if(!t||t.tagName==="LI")return;
  focus=t.hasAttribute("data-node")?{kind:"node",id:t.getAttribute("data-node"),pinned:true}:{kind:"shard",id:Number(t.getAttribute("data-shard")),pinned:true};schedule();
});
setInterval(schedule,2000);
connect();
`;

/** The whole page, served at `/`. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>foreshard dashboard</title><style>${STYLE}</style></head>
<body>
<header><h1>foreshard <span>· cluster <b id="cluster">…</b></span></h1><div id="pills" style="display:flex;gap:8px;flex-wrap:wrap"></div><span class="spacer"></span><span class="muted num" id="updated">connecting…</span></header>
<main>
<section class="wide"><h2>Cluster map <small>nodes with their failure probability; chips are shards (solid: primary, dashed: shadow)</small></h2><div class="nodes" id="nodes"><div class="empty">Connecting…</div></div></section>
<section><h2>Shards <small>primary → shadows, epoch, rollback score</small></h2><div class="shards" id="shards"></div></section>
<section class="focus" id="focus"></section>
<section><h2>Incidents <small>newest first, with root-cause reports</small></h2><div id="incidents"></div></section>
<section><h2>Switch timeline <small>routing changes and incidents, last 15 min</small></h2><div id="timeline-strip"></div><ul class="tl" id="timeline"></ul></section>
</main>
<script>${SCRIPT}${SCRIPT_CHARTS}${SCRIPT_EVENTS}</script>
</body></html>
`;
