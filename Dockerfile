# Build: docker build -t inboxbot .
# Run:   docker run --env-file .env -v inboxbot-data:/data inboxbot

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/inboxbot ./cmd/inboxbot
# distroless has no shell to mkdir with: make the volume's mount point here,
# so that it can be handed to the nonroot user (uid 65532) below.
RUN mkdir -p /out/data

# static-debian12 has CA certificates (IMAPS, SMTPS, Slack) and tzdata.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/inboxbot /inboxbot
# A new named volume copies this directory's ownership, so the bot can
# create its database (mode 0600) in it.
COPY --from=build --chown=65532:65532 /out/data /data
ENV DB_PATH=/data/inboxbot.db
VOLUME /data
USER nonroot:nonroot
ENTRYPOINT ["/inboxbot"]
