
export const paths = {
  renderPath(request) {
    // A path template set on the service or its runtime config wins: the default renders it.
    if (request.pathTemplate !== undefined) {
      return defaults.renderPath(request);
    }
    const service = JSON.parse(request.serviceJson);
    const team = label(service, TEAM_LABEL);
    if (team === undefined) {
      throw reject(
        'NoTeam',
        `AIMService ${name(service)} has no ${TEAM_LABEL} label, so it has no place under /teams`,
      );
    }
    return `/teams/${makeRfc1123Compliant(team)}/${namespace(service)}/${name(service)}`;
  },
};
