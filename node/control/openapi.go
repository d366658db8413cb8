package control

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// Kinds of request and response bodies in Operations.
const (
	BodyNone      = ""          // no body
	BodyJSON      = "json"      // application/json
	BodyNDJSON    = "ndjson"    // application/x-ndjson, one JSON object a line, flushed as it happens
	BodyBytes     = "bytes"     // application/octet-stream (file contents, a CAR)
	BodyMultipart = "multipart" // raw bytes, or multipart/form-data with the file in the first file part
	BodyText      = "text"      // text/plain (Prometheus exposition format)
)

// Operation documents one route of the API for the OpenAPI document.
type Operation struct {
	Method, Path string
	Summary      string
	Tag          string
	// Request and Response are Go values of the body types (nil: none or
	// untyped); RequestKind and ResponseKind say how they are sent.
	Request      any
	RequestKind  string
	Response     any
	ResponseKind string
	// ResponseNote describes an untyped JSON answer (the OpenAPI document).
	ResponseNote string
	// Query lists query parameters, name → description.
	Query map[string]string
	// Planned marks a route documented ahead of its implementation: it
	// answers 501 with code not_implemented.
	Planned bool
}

// Operations lists every route the daemon serves, in the order the
// OpenAPI document shows them. A test in node checks it against the
// routes registered (each documented, each answering).
var Operations = []Operation{
	{Method: "GET", Path: PathID, Tag: "node", Summary: "The node's peer ID, addresses and protocols", Response: ID{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathStatus, Tag: "node", Summary: "Uptime, peers, DHT mode, reachability, storage use", Response: Status{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathVersion, Tag: "node", Summary: "The daemon's version", Response: Version{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathPeers, Tag: "node", Summary: "Connected peers and how each is reached", Response: []Peer{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathConnect, Tag: "node", Summary: "Connect to a peer by multiaddr", Request: ConnectRequest{}, RequestKind: BodyJSON, Response: ConnectResult{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathTable, Tag: "dht", Summary: "The DHT routing table by bucket", Response: []Bucket{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathFindPeer, Tag: "dht", Summary: "Look a peer's addresses up in the DHT", Request: FindPeerRequest{}, RequestKind: BodyJSON, Response: FindPeerResult{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathProviders, Tag: "dht", Summary: "Find the providers of a CID in the DHT", Request: CIDRequest{}, RequestKind: BodyJSON, Response: []Provider{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathOpenAPI, Tag: "node", Summary: "This document", ResponseKind: BodyJSON, ResponseNote: "OpenAPI 3.0 document"},
	{Method: "GET", Path: PathMetrics, Tag: "node", Summary: "Prometheus metrics (libp2p, kad-dht, share, compute)", ResponseKind: BodyText},

	{Method: "POST", Path: PathAdd, Tag: "files", Summary: "Add files or directories by path on the daemon's machine; progress as NDJSON", Request: AddRequest{}, RequestKind: BodyJSON, Response: AddEvent{}, ResponseKind: BodyNDJSON},
	{Method: "POST", Path: PathAddStream, Tag: "files", Summary: "Add one file from the request body (raw, or multipart/form-data: the first file part); progress as NDJSON. Capped at the store's quota.",
		RequestKind: BodyMultipart, Response: AddEvent{}, ResponseKind: BodyNDJSON,
		Query: map[string]string{"opts": "AddRequest as JSON (name, chunk_size, cid_v0, no_raw_leaves, no_pin)"}},
	{Method: "POST", Path: PathGet, Tag: "files", Summary: "Fetch a DAG and write it to a path on the daemon's machine; progress as NDJSON", Request: GetRequest{}, RequestKind: BodyJSON, Response: FetchEvent{}, ResponseKind: BodyNDJSON},
	{Method: "POST", Path: PathCat, Tag: "files", Summary: "A file's bytes (fetched from the swarm if needed), streamed", Request: CatRequest{}, RequestKind: BodyJSON, ResponseKind: BodyBytes},
	{Method: "POST", Path: PathLs, Tag: "files", Summary: "A directory's entries", Request: CIDRequest{}, RequestKind: BodyJSON, Response: []LsEntry{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathPinLs, Tag: "files", Summary: "Pinned roots", Response: []string{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathPinAdd, Tag: "files", Summary: "Fetch and pin a DAG; progress as NDJSON", Request: CIDRequest{}, RequestKind: BodyJSON, Response: FetchEvent{}, ResponseKind: BodyNDJSON},
	{Method: "POST", Path: PathPinRm, Tag: "files", Summary: "Unpin a root", Request: CIDRequest{}, RequestKind: BodyJSON, Response: struct{}{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathGC, Tag: "files", Summary: "Remove unpinned blocks", Response: GCResult{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathExport, Tag: "files", Summary: "A DAG as a CAR file, streamed", Request: CIDRequest{}, RequestKind: BodyJSON, ResponseKind: BodyBytes},
	{Method: "POST", Path: PathImport, Tag: "files", Summary: "Import a CAR file from the request body", RequestKind: BodyBytes, Response: ImportResult{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathTransfers, Tag: "files", Summary: "Fetches in progress, with each provider's share", Response: []Transfer{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathPublish, Tag: "search", Summary: "Announce a pinned file or directory under the keywords of its name until it is unpinned", Request: PublishRequest{}, RequestKind: BodyJSON, Response: PublishResult{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathSearch, Tag: "search", Summary: "Find files by the words of their names; results as NDJSON as they arrive, then the ranked list", Request: SearchRequest{}, RequestKind: BodyJSON, Response: SearchEvent{}, ResponseKind: BodyNDJSON},
	{Method: "GET", Path: PathRepoStat, Tag: "files", Summary: "The block store's use against its quota", Response: RepoStat{}, ResponseKind: BodyJSON},

	{Method: "POST", Path: PathSubmit, Tag: "compute", Summary: "Submit a job: JSON with the module's CID, or multipart/form-data with a 'spec' field (SubmitRequest JSON, module empty) and a 'module' file (the Wasm bytes)",
		Request: SubmitRequest{}, RequestKind: BodyJSON, Response: SubmitResult{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathJobs, Tag: "compute", Summary: "Jobs submitted from this peer", Response: []Job{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathJob, Tag: "compute", Summary: "A job's status and its units", Request: JobRequest{}, RequestKind: BodyJSON, Response: Job{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathWait, Tag: "compute", Summary: "Wait until a job ends; its final status", Request: JobRequest{}, RequestKind: BodyJSON, Response: Job{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathWatch, Tag: "compute", Summary: "Follow a job's events as NDJSON until it ends (past events first)", Request: JobRequest{}, RequestKind: BodyJSON, Response: Event{}, ResponseKind: BodyNDJSON},
	{Method: "POST", Path: PathWhy, Tag: "compute", Summary: "Why a job's units run where they do, or wait", Request: JobRequest{}, RequestKind: BodyJSON, Response: WhyResult{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathCancel, Tag: "compute", Summary: "Cancel a job", Request: JobRequest{}, RequestKind: BodyJSON, Response: struct{}{}, ResponseKind: BodyJSON},
	{Method: "POST", Path: PathResult, Tag: "compute", Summary: "A finished job's result, streamed: the single or reduce output, else every unit's output in order (409 conflict while it runs)", Request: JobRequest{}, RequestKind: BodyJSON, ResponseKind: BodyBytes},
	{Method: "POST", Path: PathLogs, Tag: "compute", Summary: "The stderr and exit code of each run of a job's units (all units, or one)", Request: LogsRequest{}, RequestKind: BodyJSON, Response: LogsResult{}, ResponseKind: BodyJSON},
	{Method: "GET", Path: PathWorkers, Tag: "compute", Summary: "This peer's worker and the workers its scheduler knows", Response: WorkersResult{}, ResponseKind: BodyJSON},
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// OpenAPI returns the OpenAPI 3.0 document of Operations as JSON. The
// document is built once.
func OpenAPI() []byte {
	openAPIOnce.Do(func() {
		doc, err := json.MarshalIndent(buildOpenAPI(Operations), "", "  ")
		if err != nil {
			panic("control: marshal OpenAPI document: " + err.Error()) // a bug: the document is our own data
		}
		openAPIDoc = doc
	})
	return openAPIDoc
}

type obj = map[string]any

func buildOpenAPI(ops []Operation) obj {
	sg := &schemaGen{schemas: obj{}}
	sg.schemas["Error"] = sg.schema(reflect.TypeFor[ErrorResponse]())
	paths := obj{}
	for _, op := range ops {
		item, _ := paths[op.Path].(obj)
		if item == nil {
			item = obj{}
			paths[op.Path] = item
		}
		o := obj{
			"summary":     op.Summary,
			"tags":        []string{op.Tag},
			"operationId": strings.ToLower(op.Method) + strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(strings.TrimPrefix(op.Path, APIPrefix)),
		}
		if op.Planned {
			o["x-enxame-planned"] = true
		}
		if len(op.Query) > 0 {
			var params []obj
			for name, desc := range op.Query {
				params = append(params, obj{"name": name, "in": "query", "description": desc, "schema": obj{"type": "string"}})
			}
			o["parameters"] = params
		}
		if rb := sg.body(op.RequestKind, op.Request, ""); rb != nil {
			if op.Path == PathSubmit {
				rb["multipart/form-data"] = obj{"schema": obj{"type": "object", "properties": obj{
					"spec":   obj{"type": "string", "description": "SubmitRequest as JSON; its module is the uploaded one"},
					"module": obj{"type": "string", "format": "binary"},
				}}}
			}
			o["requestBody"] = obj{"required": true, "content": rb}
		}
		ok := obj{"description": "OK"}
		if c := sg.body(op.ResponseKind, op.Response, op.ResponseNote); c != nil {
			ok["content"] = c
		}
		errResp := obj{"description": "A typed error", "content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/Error"}}}}
		o["responses"] = obj{"200": ok, "400": errResp, "401": errResp, "default": errResp}
		item[strings.ToLower(op.Method)] = o
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":   "enxame node API",
			"version": "1",
			"description": "The API of one enxame peer: files, compute jobs, peers and the DHT. " +
				"On TCP every route needs 'Authorization: Bearer TOKEN' ('enxame api token'); " +
				"the unix socket in the home needs none. Errors are {\"error\":{\"code\",\"message\"}}. " +
				"Durations are integers in nanoseconds (fields ending in _ns).",
		},
		"paths":      paths,
		"components": obj{"schemas": sg.schemas, "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}}},
		"security":   []obj{{"bearer": []string{}}},
	}
}

// schemaGen builds JSON schemas of Go types, named structs once each in
// components/schemas.
type schemaGen struct{ schemas obj }

func (sg *schemaGen) body(kind string, v any, note string) obj {
	var schema obj
	switch {
	case v != nil:
		schema = sg.schema(reflect.TypeOf(v))
	case note != "":
		schema = obj{"type": "object", "description": note}
	default:
		schema = obj{}
	}
	switch kind {
	case BodyJSON:
		return obj{"application/json": obj{"schema": schema}}
	case BodyNDJSON:
		return obj{"application/x-ndjson": obj{"schema": schema}}
	case BodyBytes:
		return obj{"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}}}
	case BodyMultipart:
		return obj{
			"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}},
			"multipart/form-data":      obj{"schema": obj{"type": "object", "properties": obj{"file": obj{"type": "string", "format": "binary"}}}},
		}
	case BodyText:
		return obj{"text/plain": obj{"schema": obj{"type": "string"}}}
	}
	return nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	cidType      = reflect.TypeFor[cid.Cid]()
)

func (sg *schemaGen) schema(t reflect.Type) obj {
	switch {
	case t == durationType:
		return obj{"type": "integer", "format": "int64", "description": "nanoseconds"}
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}
	case t == cidType:
		return obj{"type": "object", "description": "a CID as IPLD JSON: {\"/\": \"bafy…\"}",
			"properties": obj{"/": obj{"type": "string"}}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return sg.schema(t.Elem())
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		return obj{"type": "array", "items": sg.schema(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": sg.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return sg.structSchema(t)
		}
		if _, ok := sg.schemas[t.Name()]; !ok {
			sg.schemas[t.Name()] = obj{} // breaks cycles
			sg.schemas[t.Name()] = sg.structSchema(t)
		}
		return obj{"$ref": "#/components/schemas/" + t.Name()}
	}
	return obj{}
}

func (sg *schemaGen) structSchema(t reflect.Type) obj {
	props := obj{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = sg.schema(f.Type)
	}
	return obj{"type": "object", "properties": props}
}
