package slackfake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pseudo method names under which Calls counts, and FailNext,
// RateLimitNext, HTTPErrorNext and DropAfterNext fault, the requests to
// the file URLs the fake serves (they are not Web API methods).
const (
	// UploadURLMethod is the POST of a file's bytes to the upload_url that
	// files.getUploadURLExternal returned.
	UploadURLMethod = "upload_url"
	// FileDownloadMethod is a GET of a file's url_private(_download).
	FileDownloadMethod = "file_download"
)

// File is a recorded file (see Files and File): one uploaded by the bot
// through files.getUploadURLExternal / upload_url / files.completeUploadExternal,
// or shared by a user with UserShareFiles.
type File struct {
	ID, Name, Title, Mimetype, Filetype string
	// User is the uploader: BotUserID for the bot's uploads.
	User string
	// Length is the length declared to files.getUploadURLExternal; Size
	// the number of bytes received (equal once Uploaded).
	Length, Size        int
	Bytes               []byte
	AltTxt, SnippetType string
	// Uploaded: the bytes arrived at the upload_url. Completed:
	// files.completeUploadExternal accepted the file.
	Uploaded, Completed bool
	InitialComment      string
	// Shares are the messages that share the file, in order. Empty for a
	// file completed without a channel (private) or whose share is
	// deferred (DeferFileShares).
	Shares                         []FileShare
	URLPrivate, URLPrivateDownload string
}

// FileShare is one message sharing a file.
type FileShare struct {
	Channel  string
	ThreadTS string // "" at top level
	TS       string // the message's ts
}

type fileRec struct {
	id, name, title, mimetype, filetype string
	user, altTxt, snippetType           string
	length                              int
	data                                []byte
	uploaded, completed                 bool
	created                             int64
	initialComment                      string
	shares                              []FileShare
}

// pendingShare is a completed upload whose message Slack has not posted yet
// (DeferFileShares).
type pendingShare struct {
	fileIDs           []string
	channel, threadTS string
	text              string
	blocks            json.RawMessage
}

// fileTypes maps extensions to Slack's mimetype and filetype. A fixed table
// (not mime.TypeByExtension) so that results do not depend on the machine.
var fileTypes = map[string][2]string{
	".txt":  {"text/plain", "text"},
	".text": {"text/plain", "text"},
	".html": {"text/html", "html"},
	".htm":  {"text/html", "html"},
	".csv":  {"text/csv", "csv"},
	".json": {"application/json", "json"},
	".pdf":  {"application/pdf", "pdf"},
	".png":  {"image/png", "png"},
	".jpg":  {"image/jpeg", "jpg"},
	".jpeg": {"image/jpeg", "jpg"},
	".gif":  {"image/gif", "gif"},
	".zip":  {"application/zip", "zip"},
	".eml":  {"message/rfc822", "email"},
	".ics":  {"text/calendar", "ical"},
	".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
	".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
}

func fileType(name string) (mimetype, filetype string) {
	if t, ok := fileTypes[strings.ToLower(path.Ext(name))]; ok {
		return t[0], t[1]
	}
	return "application/octet-stream", "binary"
}

func (f *fileRec) toFile(base string) File {
	return File{
		ID: f.id, Name: f.name, Title: f.title, Mimetype: f.mimetype, Filetype: f.filetype,
		User: f.user, Length: f.length, Size: len(f.data), Bytes: slices.Clone(f.data),
		AltTxt: f.altTxt, SnippetType: f.snippetType,
		Uploaded: f.uploaded, Completed: f.completed, InitialComment: f.initialComment,
		Shares:             slices.Clone(f.shares),
		URLPrivate:         base + f.privatePath(false),
		URLPrivateDownload: base + f.privatePath(true),
	}
}

func (f *fileRec) privatePath(download bool) string {
	p := "/files-pri/" + TeamID + "-" + f.id + "/"
	if download {
		p += "download/"
	}
	return p + url.PathEscape(f.name)
}

// Files returns every file the fake knows, in creation order (also those
// whose upload was never completed).
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := sortedKeys(s.files) // IDs come from a counter: sorted = created order
	out := make([]File, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.files[id].toFile(s.srv.URL))
	}
	return out
}

// File returns a file by ID.
func (s *Server) File(id string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[id]; f != nil {
		return f.toFile(s.srv.URL), true
	}
	return File{}, false
}

// DeferFileShares makes files.completeUploadExternal answer ok without
// posting the sharing message yet, as real Slack does (the share appears a
// moment later, so files.info and conversations.replies right after the
// call may not show it). ShareDeferredFiles posts the pending shares.
func (s *Server) DeferFileShares(deferred bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deferShare = deferred
}

// ShareDeferredFiles posts the shares deferred by DeferFileShares and
// returns how many messages it posted.
func (s *Server) ShareDeferredFiles() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.deferred)
	for _, ps := range s.deferred {
		s.postFileShareLocked(ps)
	}
	s.deferred = nil
	s.notifyLocked()
	return n
}

func (s *Server) handleFiles(mux *http.ServeMux) {
	mux.HandleFunc("/upload/v1/", s.handleUpload)
	mux.HandleFunc("/files-pri/", s.handleDownload)
	mux.HandleFunc("/signin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Sign in to Fake</body></html>")
	})
}

// ---- files.getUploadURLExternal ----

func (s *Server) filesGetUploadURLExternal(p params) answer {
	name := p.Get("filename")
	if name == "" {
		return errAnswer("invalid_arguments")
	}
	length, err := strconv.Atoi(p.Get("length"))
	switch {
	case !p.has("length") || (err == nil && length == 0):
		return errAnswer("missing_argument")
	case err != nil || length < 0:
		return errAnswer("invalid_arguments")
	}
	alt := p.Get("alt_txt")
	if utf8.RuneCountInString(alt) > 1000 {
		return errAnswer("alt_txt_too_large")
	}
	snippet := p.Get("snippet_type")
	if snippet != "" && length > 1<<20 {
		return errAnswer("snippet_too_large")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextIDLocked("F")
	mt, ft := fileType(name)
	if snippet != "" {
		mt, ft = "text/plain", snippet
	}
	s.files[id] = &fileRec{
		id: id, name: name, mimetype: mt, filetype: ft, user: BotUserID,
		altTxt: alt, snippetType: snippet, length: length,
		created: tsSeconds(s.nextTSLocked()),
	}
	ticket := s.nextIDLocked("upl")
	s.uploads[ticket] = id
	s.notifyLocked()
	return okAnswer(obj{"upload_url": s.srv.URL + "/upload/v1/" + ticket, "file_id": id})
}

// ---- upload_url ----

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	drop, done := s.begin(w, UploadURLMethod)
	if done {
		return
	}
	status, body := s.upload(r)
	if drop {
		dropConnection(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// upload stores the bytes POSTed to an upload_url: the "file" part of a
// multipart form (what slack-go sends) or the raw body.
func (s *Server) upload(r *http.Request) (int, string) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "method not allowed"
	}
	data, err := readUploadBody(r)
	if err != nil {
		return http.StatusBadRequest, "bad upload: " + err.Error()
	}
	ticket := strings.TrimPrefix(r.URL.Path, "/upload/v1/")
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[s.uploads[ticket]]
	if f == nil || f.completed {
		return http.StatusNotFound, "unknown upload"
	}
	if len(data) != f.length {
		// The declared length is what Slack reserved; another size is refused
		// and the file stays not uploaded (completing it fails).
		return http.StatusBadRequest, fmt.Sprintf("length mismatch: declared %d, received %d", f.length, len(data))
	}
	f.data, f.uploaded = data, true
	s.notifyLocked()
	return http.StatusOK, "OK - " + strconv.Itoa(len(data))
}

func readUploadBody(r *http.Request) ([]byte, error) {
	mt, ps, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return io.ReadAll(r.Body)
	}
	mr := multipart.NewReader(r.Body, ps["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file part: %w", err)
		}
		if part.FormName() == "file" {
			return io.ReadAll(part)
		}
	}
}

// ---- files.completeUploadExternal ----

func (s *Server) filesCompleteUploadExternal(p params) answer {
	var want []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p.Get("files")), &want); err != nil || len(want) == 0 {
		return errAnswer("invalid_arguments")
	}
	var targets []string
	if c := p.Get("channel_id"); c != "" {
		targets = append(targets, c)
	}
	if cs := p.Get("channels"); cs != "" {
		for c := range strings.SplitSeq(cs, ",") {
			if c = strings.TrimSpace(c); c != "" && !slices.Contains(targets, c) {
				targets = append(targets, c)
			}
		}
	}
	if len(targets) > 100 {
		return errAnswer("channels_limit_exceeded")
	}
	threadTS := p.Get("thread_ts")
	if threadTS != "" && len(targets) != 1 {
		return errAnswer("invalid_arguments")
	}
	text := p.Get("initial_comment")
	var blocks json.RawMessage
	if raw := p.Get("blocks"); raw != "" && text == "" { // Slack ignores blocks with initial_comment
		b, a, ok := validateBlocks(raw, 50)
		if !ok {
			return a
		}
		if !isEmptyBlocks(b) {
			blocks = b
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(want))
	for i, w := range want {
		f := s.files[w.ID]
		// Unknown, not (correctly) uploaded, or already completed: the
		// upload ticket is gone.
		if f == nil || !f.uploaded || f.completed {
			return errAnswer("file_not_found")
		}
		ids[i] = w.ID
	}
	chans := make([]*chanRec, len(targets))
	for i, t := range targets {
		ch := s.resolveChannelLocked(t)
		if ch == nil {
			return errAnswer("channel_not_found")
		}
		if !slices.Contains(ch.members, BotUserID) {
			return errAnswer("not_in_channel")
		}
		chans[i] = ch
	}
	res := make([]obj, len(want))
	for i, w := range want {
		f := s.files[w.ID]
		f.completed = true
		f.title = w.Title
		if f.title == "" {
			f.title = f.name
		}
		f.initialComment = text
		res[i] = obj{"id": f.id, "title": f.title}
	}
	for _, ch := range chans {
		tts := threadTS
		if parent := s.findLocked(ch.id, tts); parent != nil && parent.threadTS != "" {
			tts = parent.threadTS // a reply's ts threads under its parent, as for chat.postMessage
		}
		ps := &pendingShare{fileIDs: ids, channel: ch.id, threadTS: tts, text: text, blocks: blocks}
		if s.deferShare {
			s.deferred = append(s.deferred, ps)
		} else {
			s.postFileShareLocked(ps)
		}
	}
	s.notifyLocked()
	return okAnswer(obj{"files": res})
}

// postFileShareLocked posts the bot's message sharing uploaded files: no
// subtype, the files in "files", the initial comment as text.
func (s *Server) postFileShareLocked(ps *pendingShare) {
	m := &msgRec{
		channel: ps.channel, ts: s.nextTSLocked(), threadTS: ps.threadTS,
		user: BotUserID, botID: BotID, text: ps.text, blocks: ps.blocks,
		files: slices.Clone(ps.fileIDs), unfurl: true,
	}
	s.insertLocked(m)
	for _, id := range ps.fileIDs {
		if f := s.files[id]; f != nil {
			f.shares = append(f.shares, FileShare{Channel: m.channel, ThreadTS: m.threadTS, TS: m.ts})
		}
	}
	if s.EchoBotMessages {
		s.enqueueEventLocked(s.messageEventLocked(m), "", 0)
	}
}

// ---- files.info ----

func (s *Server) filesInfo(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[p.Get("file")]
	if f == nil || !f.completed || !s.botSeesFileLocked(f) {
		return errAnswer("file_not_found")
	}
	o := s.fileJSONLocked(f)
	s.addSharesJSONLocked(o, f)
	return okAnswer(obj{"file": o, "comments": []any{}, "response_metadata": obj{"next_cursor": ""}})
}

// botSeesFileLocked: the bot can read its own files and those shared in a
// conversation it is a member of.
func (s *Server) botSeesFileLocked(f *fileRec) bool {
	if f.user == BotUserID {
		return true
	}
	for _, sh := range f.shares {
		if ch := s.channels[sh.Channel]; ch != nil && slices.Contains(ch.members, BotUserID) {
			return true
		}
	}
	return false
}

// fileJSONLocked renders a file object as messages and files.info carry it.
func (s *Server) fileJSONLocked(f *fileRec) obj {
	pretty := strings.ToUpper(f.filetype)
	if f.filetype == "text" {
		pretty = "Plain Text"
	}
	o := obj{
		"id":                   f.id,
		"created":              f.created,
		"timestamp":            f.created,
		"name":                 f.name,
		"title":                f.title,
		"mimetype":             f.mimetype,
		"filetype":             f.filetype,
		"pretty_type":          pretty,
		"user":                 f.user,
		"user_team":            TeamID,
		"editable":             false,
		"size":                 len(f.data),
		"mode":                 "hosted",
		"is_external":          false,
		"external_type":        "",
		"is_public":            false,
		"public_url_shared":    false,
		"display_as_bot":       false,
		"username":             "",
		"url_private":          s.srv.URL + f.privatePath(false),
		"url_private_download": s.srv.URL + f.privatePath(true),
		"media_display_type":   "unknown",
		"permalink":            "https://fake.slack.com/files/" + f.user + "/" + f.id + "/" + url.PathEscape(f.name),
		"permalink_public":     "https://slack-files.com/" + TeamID + "-" + f.id + "-fake",
		"has_rich_preview":     false,
		"file_access":          "visible",
	}
	if f.altTxt != "" {
		o["alt_txt"] = f.altTxt
	}
	return o
}

// addSharesJSONLocked adds channels/groups/ims and shares, as files.info has them.
func (s *Server) addSharesJSONLocked(o obj, f *fileRec) {
	channels, groups, ims := []string{}, []string{}, []string{}
	public, private := obj{}, obj{}
	for _, sh := range f.shares {
		t := channelType(sh.Channel)
		name := sh.Channel
		if ch := s.channels[sh.Channel]; ch != nil {
			name = ch.name
		}
		info := obj{"ts": sh.TS, "channel_name": name, "team_id": TeamID, "share_user_id": f.user,
			"reply_users": []string{}, "reply_users_count": 0, "reply_count": 0}
		if sh.ThreadTS != "" {
			info["thread_ts"] = sh.ThreadTS
		}
		target := private
		switch t {
		case "channel":
			target = public
			if !slices.Contains(channels, sh.Channel) {
				channels = append(channels, sh.Channel)
			}
			o["is_public"] = true
		case "group":
			if !slices.Contains(groups, sh.Channel) {
				groups = append(groups, sh.Channel)
			}
		case "im":
			if !slices.Contains(ims, sh.Channel) {
				ims = append(ims, sh.Channel)
			}
		}
		list, _ := target[sh.Channel].([]obj)
		target[sh.Channel] = append(list, info)
	}
	shares := obj{}
	if len(public) > 0 {
		shares["public"] = public
	}
	if len(private) > 0 {
		shares["private"] = private
	}
	o["channels"], o["groups"], o["ims"], o["shares"] = channels, groups, ims, shares
}

// addFilesJSONLocked adds the "files" of a message to its JSON (history,
// replies, events). Users' shares are "upload": true with subtype
// file_share; the bot's completeUploadExternal shares have no subtype.
func (s *Server) addFilesJSONLocked(o map[string]any, m *msgRec) {
	if len(m.files) == 0 {
		return
	}
	files := make([]obj, 0, len(m.files))
	for _, id := range m.files {
		if f := s.files[id]; f != nil {
			files = append(files, s.fileJSONLocked(f))
		}
	}
	o["files"] = files
	o["upload"] = m.subtype == "file_share"
	o["display_as_bot"] = false
}

// ---- downloads ----

// handleDownload serves url_private and url_private_download. Like Slack's
// files host, a request without the bot token (as Authorization: Bearer) or
// for a file the bot cannot see is redirected to the sign-in page with
// redir=<path>, which slack-go's GetFileContext reports as an error.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	drop, done := s.begin(w, FileDownloadMethod)
	if done {
		return
	}
	// /files-pri/T1-F000001[/download]/name
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/files-pri/"), "/", 2)
	id, _ := strings.CutPrefix(parts[0], TeamID+"-")
	s.mu.Lock()
	f := s.files[id]
	var data []byte
	var mt, name string
	ok := f != nil && f.completed
	visible := ok && s.botSeesFileLocked(f)
	if ok {
		data, mt, name = slices.Clone(f.data), f.mimetype, f.name
	}
	s.mu.Unlock()
	if drop {
		dropConnection(w)
		return
	}
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case !ok:
		http.NotFound(w, r)
	case r.Header.Get("Authorization") != "Bearer "+BotToken || !visible:
		http.Redirect(w, r, s.srv.URL+"/signin?redir="+url.QueryEscape(r.URL.Path), http.StatusFound)
	default:
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if len(parts) == 2 && strings.HasPrefix(parts[1], "download/") {
			w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		}
		_, _ = io.Copy(w, bytes.NewReader(data))
	}
}

// ---- users' files ----

// UserFile is a file a user shares with UserShareFiles. Mimetype and
// Filetype default from the name's extension; Title defaults to Name.
type UserFile struct {
	Name, Title, Mimetype, Filetype string
	Bytes                           []byte
}

// UserShareFiles records files uploaded by a user and the message sharing
// them (threadTS "" at top level; text may be empty), and sends the
// "message" event with subtype "file_share" and the files (id, name,
// mimetype, size, url_private_download served by the fake...). files.info
// knows the files and the bot can download them with its token.
func (s *Server) UserShareFiles(channel, user, threadTS, text string, files ...UserFile) (ts, envelopeID string, fileIDs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	created := s.nextTSLocked()
	for _, uf := range files {
		mt, ft := fileType(uf.Name)
		f := &fileRec{
			id: s.nextIDLocked("F"), name: uf.Name, title: cmp.Or(uf.Title, uf.Name),
			mimetype: cmp.Or(uf.Mimetype, mt), filetype: cmp.Or(uf.Filetype, ft),
			user: user, length: len(uf.Bytes), data: slices.Clone(uf.Bytes),
			uploaded: true, completed: true, created: tsSeconds(created),
		}
		s.files[f.id] = f
		fileIDs = append(fileIDs, f.id)
	}
	m := &msgRec{channel: channel, ts: s.nextTSLocked(), threadTS: threadTS, user: user, text: text,
		subtype: "file_share", files: slices.Clone(fileIDs), unfurl: true}
	s.insertLocked(m)
	for _, id := range fileIDs {
		s.files[id].shares = []FileShare{{Channel: channel, ThreadTS: threadTS, TS: m.ts}}
	}
	envelopeID = s.enqueueEventLocked(s.messageEventLocked(m), "", 0)
	return m.ts, envelopeID, fileIDs
}
