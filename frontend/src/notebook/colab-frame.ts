// The script every sandboxed output frame runs first (outputs.tsx puts it in the frame's head):
// google.colab for the frame's own scripts, and its side of the page's bridge (colab.ts).
// Only JSON values cross, by postMessage; the frame stays in its opaque origin.

/**
 * Runs first in every sandboxed output frame: defines `google.colab` for the frame's scripts,
 * evaluates eval_js scripts the page sends (in the frame's global scope, so functions an earlier
 * script of the output defined are there) and says when the frame has loaded.
 */
export const FRAME_BRIDGE = `(function(){
var calls={},next=1;function post(m){parent.postMessage(m,"*")}
function invokeFunction(name,args,kwargs){return new Promise(function(resolve,reject){var id=next++;calls[id]={resolve:resolve,reject:reject};
post({dikte:"invoke",id:id,name:String(name),args:Array.isArray(args)?args:[],kwargs:kwargs&&typeof kwargs==="object"?kwargs:{}})})}
function nothing(){}
window.google=window.google||{};window.google.colab={kernel:{invokeFunction:invokeFunction,accessAllowed:true},
output:{setIframeHeight:nothing,resizeIframeToContent:nothing,pauseOutputUntil:function(p){return p},getDefaultOutputArea:function(){return document.body}}};
function answer(id,ok,v){post(ok?{dikte:"eval-result",id:id,ok:true,value:v}:{dikte:"eval-result",id:id,ok:false,error:v})}
addEventListener("message",function(e){if(e.source!==parent||!e.data||typeof e.data!=="object")return;var d=e.data;
if(d.dikte==="eval"){Promise.resolve().then(function(){return(0,eval)(String(d.script))}).then(function(v){var s=JSON.stringify(v);answer(d.id,true,s===undefined?null:JSON.parse(s))},function(err){answer(d.id,false,String(err))})}
else if(d.dikte==="invoke-result"){var c=calls[d.id];if(!c)return;delete calls[d.id];if(d.ok)c.resolve(d.value);else c.reject(new Error(d.error))}
else if(d.dikte==="ping"&&document.readyState==="complete")post({dikte:"ready"})});
addEventListener("load",function(){post({dikte:"ready"})})})()`;
