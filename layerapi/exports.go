package layerapi

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/export"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/urls"
)

// Data exports ([P1.1] platform/data/export.md; [S3] server_api data.out).
// Exports name no user, so their shapes are the same in every version: the
// handlers negotiate the version (refusing unknown ones) and render
// through package export, not through the view.

// exportDownloadSigned is what an export's download URL signs: the
// export named by the path's file.
func exportDownloadSigned(r *http.Request) string { return exportOfFile(r.PathValue("file")) }

func exportOfFile(file string) string { return strings.TrimSuffix(file, urls.ArchiveSuffix) }

type exportSecurityJSON struct {
	PublicKey string `json:"public_key"`
}

// putExportSecurity registers the app's RSA public key. Layer answered 200
// (OK); Herald adds the key as GET shows it.
func (a *API) putExportSecurity(w http.ResponseWriter, r *http.Request, c *call) error {
	var in exportSecurityJSON
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	k, err := c.service().PutExportKey(r.Context(), c.app, in.PublicKey)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, exportSecurityJSON{PublicKey: k.PublicKey})
	return nil
}

func (a *API) getExportSecurity(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := c.service().ExportKey(r.Context(), c.app)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, exportSecurityJSON{PublicKey: k.PublicKey})
	return nil
}

// requestExport requests a historical export: "an empty POST", which
// clients also send as {} (GetStream/layer-migration); 202 with the
// export.
func (a *API) requestExport(w http.ResponseWriter, r *http.Request, c *call) error {
	var ignored map[string]any
	if err := heraldhttp.DecodeOptional(w, r, &ignored); err != nil {
		return err
	}
	x, err := c.service().RequestExport(r.Context(), c.app)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusAccepted, export.Render(x, a.srv.URLs))
	return nil
}

// listExports lists the app's exports, newest first, in pages (page_size,
// from_id) as Herald's other listings.
func (a *API) listExports(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := heraldhttp.ParsePage(r)
	if err != nil {
		return err
	}
	xs, err := c.service().Exports(r.Context(), c.app, p)
	if err != nil {
		return err
	}
	heraldhttp.WritePage(a.srv, w, r, p, xs, func(x *herald.Export) string { return x.ID },
		func(x *herald.Export) export.Object { return export.Render(x, a.srv.URLs) })
	return nil
}

// exportStatus answers an export. Layer documented 202 (Accepted) for an
// export still executing, the only case its docs show; Herald answers 202
// while the export is pending or executing, and 200 once it is completed
// or failed, so that a client can tell from the status code alone.
func (a *API) exportStatus(w http.ResponseWriter, r *http.Request, c *call) error {
	x, err := c.service().Export(r.Context(), c.app, r.PathValue("id"))
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if x.Status == herald.ExportCompleted || x.Status == herald.ExportFailed {
		status = http.StatusOK
	}
	heraldhttp.WriteJSON(w, status, export.Render(x, a.srv.URLs))
	return nil
}

// deleteExport deletes an export and its archive: 204, or 404.
func (a *API) deleteExport(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().DeleteExport(r.Context(), c.app, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type exportScheduleJSON struct {
	Interval string    `json:"interval"`
	Events   *[]string `json:"events"`
}

// putExportSchedule sets the schedule and answers it, next export time
// included ("To find out when the next export is scheduled, check the
// response body").
func (a *API) putExportSchedule(w http.ResponseWriter, r *http.Request, c *call) error {
	var in exportScheduleJSON
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	var events []string
	if in.Events != nil {
		events = *in.Events
		if events == nil {
			events = []string{}
		}
	}
	sc, err := c.service().PutExportSchedule(r.Context(), c.app, in.Interval, events)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, export.RenderSchedule(sc))
	return nil
}

func (a *API) getExportSchedule(w http.ResponseWriter, r *http.Request, c *call) error {
	sc, err := c.service().ExportSchedule(r.Context(), c.app)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, export.RenderSchedule(sc))
	return nil
}

// downloadExport serves an export's encrypted archive at its signed URL.
func (a *API) downloadExport(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	if !strings.HasSuffix(file, urls.ArchiveSuffix) {
		return herald.NotFound("export", file)
	}
	x, err := a.srv.Service.ExportByID(r.Context(), exportOfFile(file))
	if err != nil {
		return err
	}
	body, err := a.srv.Service.OpenExport(r.Context(), x)
	if err != nil {
		return err
	}
	defer body.Close()
	heraldhttp.ServeAttachment(w, r, body, x.Size, "application/octet-stream", x.ID+urls.ArchiveSuffix)
	return nil
}
