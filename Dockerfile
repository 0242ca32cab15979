# Build: docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t inboxbot .
# Run:   docker run --env-file .env -v inboxbot-data:/data inboxbot
# Check: docker run --rm --env-file .env inboxbot check

FROM golang:1.26-bookworm AS build
# The build context has no .git (see .dockerignore), so Go cannot stamp the
# version itself: it comes in as build arguments.
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
	-o /out/inboxbot ./cmd/inboxbot
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
# Health and metrics; the HEALTHCHECK below asks /healthz through it.
ENV HTTP_ADDR=:8080
EXPOSE 8080
VOLUME /data
USER nonroot:nonroot
# No shell or curl in the image: the binary asks itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/inboxbot", "health"]
ENTRYPOINT ["/inboxbot"]
